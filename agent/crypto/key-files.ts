import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { hasErrno, systemErrorText } from '../system-error.js';

/**
 * Key material lives in files of mode 0600 (directories 0700), base64 text, one key per
 * file. A secret key file readable by group or others is refused rather than used.
 *
 * Reading one fails as `key_missing` only when there is no such file (ENOENT): callers make
 * a new device secret on that code, so a secret that exists but cannot be read (permission
 * denied, a directory in its place, …) is `key_unreadable`, with its cause, and never
 * replaced.
 */

export const SECRET_FILE_MODE = 0o600;
export const KEY_DIR_MODE = 0o700;

/** Writes `bytes` as base64 to `path` atomically (temp file, fsync, rename), mode 0600. */
export async function writeSecretFile(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: KEY_DIR_MODE });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', SECRET_FILE_MODE);
  try {
    await handle.writeFile(`${Buffer.from(bytes).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temp, SECRET_FILE_MODE);
  await rename(temp, path);
  await syncDir(dirname(path));
}

/** Writes a public key as base64 text (mode 0644). */
export async function writePublicFile(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: KEY_DIR_MODE });
  const handle = await open(path, 'w', 0o644);
  try {
    await handle.writeFile(`${Buffer.from(bytes).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a secret key file, refusing one that others may read or of the wrong length. */
export async function readSecretFile(path: string, expectedLength: number): Promise<Uint8Array> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw readError(path, err);
  }
  // Only a file's mode says who may read it; anything else fails to read, below, with its cause.
  if (info.isFile() && (info.mode & 0o077) !== 0) {
    throw new UserError(
      'key_permissions',
      `key file ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw readError(path, err);
  }
  return decodeKey(text, expectedLength, path);
}

/** Reads a public key file (base64 text). */
export async function readPublicFile(path: string, expectedLength: number): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw readError(path, err);
  }
  return decodeKey(text, expectedLength, path);
}

/** `key_missing` when there is no such file, `key_unreadable` with the cause otherwise. */
function readError(path: string, err: unknown): UserError {
  if (hasErrno(err, 'ENOENT')) {
    return new UserError('key_missing', `key file ${path} does not exist`, { cause: err });
  }
  return new UserError(
    'key_unreadable',
    `key file ${path} cannot be read (${systemErrorText(err)})`,
    { cause: err },
  );
}

/** Decodes base64 key text of an exact length; `what` names it in the error. */
export function decodeKey(text: string, expectedLength: number, what: string): Uint8Array {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || bytes.length !== expectedLength) {
    throw new UserError('key_invalid', `${what} is not a base64 key of ${expectedLength} bytes`);
  }
  return new Uint8Array(bytes);
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const keyPath = (dir: string, name: string) => join(dir, name);
