import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { deviceSecretPath, loadDeviceSecret } from '../crypto/device-keys.js';
import { UserError } from '../errors.js';
import type { AccountIds } from './system-user.js';

/**
 * Writing what provisioning decided. The config holds passwords, so it is written mode
 * 0600, atomically (a temp file beside it, fsync, rename, fsync of the directory): a crash
 * leaves the old config or the new one, never half of one, and a failure removes the temp
 * file. Nothing is written before every answer was checked.
 */

/** Refuses to replace an existing config unless forced; checked before any question. */
export async function refuseExistingConfig(path: string, force: boolean): Promise<void> {
  if (force) return;
  try {
    await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UserError('config_unreadable', `cannot look at ${path}: ${(err as Error).message}`);
  }
  throw new UserError(
    'config_exists',
    `${path} exists; run with --force to replace it (the device secret and footage are kept)`,
  );
}

export const CONFIG_FILE_MODE = 0o600;
export const DATA_DIR_MODE = 0o700;

/** Writes `config` as JSON to `path` atomically, mode 0600, owned by `owner` if given. */
export async function writeConfigFile(
  path: string,
  config: unknown,
  owner?: AccountIds,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', CONFIG_FILE_MODE);
    try {
      await handle.writeFile(`${JSON.stringify(config, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The umask may have narrowed the mode; it must not have widened it.
    await chmod(temp, CONFIG_FILE_MODE);
    if (owner) await chown(temp, owner.uid, owner.gid);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new UserError('config_write', `cannot write ${path}: ${(err as Error).message}`);
  }
  await syncDirectory(dir);
}

/**
 * Creates `dataDir` (mode 0700) and the device secret in it. An existing secret is kept,
 * and so is everything else in the directory (footage, database): a forced re-run only
 * changes the config. With `owner`, the directory and the keys belong to the agent's user.
 */
export async function prepareDataDir(
  dataDir: string,
  owner?: AccountIds,
): Promise<{ secretKept: boolean }> {
  try {
    const secretKept = await exists(deviceSecretPath(dataDir));
    await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
    await chmod(dataDir, DATA_DIR_MODE);
    await loadDeviceSecret(dataDir);
    if (owner) {
      const keys = join(dataDir, 'keys');
      for (const path of [dataDir, keys, join(keys, 'device.secret')]) {
        await chown(path, owner.uid, owner.gid);
      }
    }
    return { secretKept };
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError('data_dir', `cannot prepare ${dataDir}: ${(err as Error).message}`);
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
