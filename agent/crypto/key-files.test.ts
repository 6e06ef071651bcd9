import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceKeys, deviceSecretPath } from './device-keys.js';
import { readPublicFile, readSecretFile, writeSecretFile } from './key-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-key-files-'));
  await writeFile(join(dir, 'a-file'), 'not a directory');
  await mkdir(join(dir, 'a-directory.key'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Read errors keep their cause. Tests run as root, who can read a file of mode 000, so the
 * unreadable cases are ones the kernel refuses root too: a path through a regular file
 * (ENOTDIR) and a directory where the key file should be (EISDIR).
 */
describe('reading key files', () => {
  const readers = [
    ['readSecretFile', (path: string) => readSecretFile(path, 32)],
    ['readPublicFile', (path: string) => readPublicFile(path, 32)],
  ] as const;

  it.each(readers)('%s: only a missing file is key_missing', async (_name, read) => {
    const missing = join(dir, 'missing.key');
    await expect(read(missing)).rejects.toMatchObject({
      code: 'key_missing',
      message: `key file ${missing} does not exist`,
    });
  });

  it.each(readers)('%s: a path through a regular file says ENOTDIR', async (_name, read) => {
    const path = join(dir, 'a-file', 'box.key');
    await expect(read(path)).rejects.toMatchObject({
      code: 'key_unreadable',
      message: `key file ${path} cannot be read (ENOTDIR: not a directory)`,
    });
  });

  it.each(readers)('%s: a directory in its place says EISDIR', async (_name, read) => {
    const path = join(dir, 'a-directory.key');
    await expect(read(path)).rejects.toMatchObject({
      code: 'key_unreadable',
      message: `key file ${path} cannot be read (EISDIR: illegal operation on a directory)`,
    });
  });

  it('still refuses a secret file others may read, and reads a good one', async () => {
    const path = join(dir, 'box.key');
    await writeSecretFile(path, new Uint8Array(32).fill(7));
    expect(await readSecretFile(path, 32)).toEqual(new Uint8Array(32).fill(7));
    await chmod(path, 0o644);
    await expect(readSecretFile(path, 32)).rejects.toMatchObject({ code: 'key_permissions' });
  });
});

describe('the device secret', () => {
  it('is never replaced when it exists but cannot be read', async () => {
    const secret = deviceSecretPath(dir);
    await mkdir(secret, { recursive: true });
    await expect(DeviceKeys.load(dir)).rejects.toMatchObject({
      code: 'key_unreadable',
      message: expect.stringContaining('(EISDIR: illegal operation on a directory)'),
    });
    expect((await stat(secret)).isDirectory()).toBe(true);
  });

  it('says ENOTDIR when its keys directory is a regular file', async () => {
    const dataDir = join(dir, 'data');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'keys'), 'not a directory');
    await expect(DeviceKeys.load(dataDir)).rejects.toMatchObject({
      code: 'key_unreadable',
      message: `key file ${deviceSecretPath(dataDir)} cannot be read (ENOTDIR: not a directory)`,
    });
  });
});
