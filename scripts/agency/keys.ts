import { access } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import {
  readPublicFile,
  readSecretFile,
  writePublicFile,
  writeSecretFile,
} from '../../agent/crypto/key-files.js';
import { UserError } from '../../agent/errors.js';
import { hasErrno, systemErrorText } from '../../agent/system-error.js';

/**
 * An agency's (or a trust root's) key directory: an Ed25519 signing pair for requests and
 * delegations, and an X25519 box pair that shared footage is sealed to. Secret files are
 * base64 text, mode 0600 (the signing key in tweetnacl's 64-byte seed‖public form).
 */

export const KEY_FILES = {
  signingKey: 'signing.key',
  signingPub: 'signing.pub',
  boxKey: 'box.key',
  boxPub: 'box.pub',
} as const;

export interface GeneratedKeys {
  signingPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
}

/** Makes both pairs in `dir`; refuses when any of the four files is already there. */
export async function generateKeyDir(dir: string): Promise<GeneratedKeys> {
  for (const name of Object.values(KEY_FILES)) {
    if (await exists(join(dir, name), '--out')) {
      throw new UserError(
        'key_exists',
        `--out: ${join(dir, name)} exists; refusing to overwrite keys`,
      );
    }
  }
  const signing = nacl.sign.keyPair();
  const box = nacl.box.keyPair();
  await writeSecretFile(join(dir, KEY_FILES.signingKey), signing.secretKey);
  await writePublicFile(join(dir, KEY_FILES.signingPub), signing.publicKey);
  await writeSecretFile(join(dir, KEY_FILES.boxKey), box.secretKey);
  await writePublicFile(join(dir, KEY_FILES.boxPub), box.publicKey);
  return { signingPublicKey: signing.publicKey, boxPublicKey: box.publicKey };
}

/** The 64-byte signing secret of a key directory; `flag` names the flag in errors. */
export async function readSigningKey(dir: string, flag: string): Promise<Uint8Array> {
  const secret = await withFlag(flag, () => readSecretFile(join(dir, KEY_FILES.signingKey), 64));
  // tweetnacl's secret key is seed‖public: a file whose halves disagree is corrupt.
  const derived = nacl.sign.keyPair.fromSeed(secret.subarray(0, 32)).publicKey;
  if (!Buffer.from(derived).equals(Buffer.from(secret.subarray(32)))) {
    throw new UserError(
      'key_invalid',
      `${flag}: ${join(dir, KEY_FILES.signingKey)} is not a valid signing key`,
    );
  }
  return secret;
}

export function readSigningPublicKey(dir: string, flag: string): Promise<Uint8Array> {
  return withFlag(flag, () => readPublicFile(join(dir, KEY_FILES.signingPub), 32));
}

export function readBoxPublicKey(dir: string, flag: string): Promise<Uint8Array> {
  return withFlag(flag, () => readPublicFile(join(dir, KEY_FILES.boxPub), 32));
}

async function withFlag<T>(flag: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof UserError) throw new UserError(err.code, `${flag}: ${err.message}`);
    throw err;
  }
}

async function exists(path: string, flag: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    // No such file is the answer; any other failure is the real cause, said as it is.
    if (hasErrno(err, 'ENOENT')) return false;
    throw new UserError(
      'key_unreadable',
      `${flag}: cannot check ${path} (${systemErrorText(err)})`,
    );
  }
}
