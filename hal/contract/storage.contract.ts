import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../interfaces.js';

/** What every Storage must do, on a real temp directory. */
export function storageContract(name: string, make: () => Storage) {
  describe(`Storage contract: ${name}`, () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'storage-contract-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('reports free space as a non-negative integer', async () => {
      const free = await make().freeBytes(dir);
      expect(Number.isInteger(free)).toBe(true);
      expect(free).toBeGreaterThanOrEqual(0);
    });

    it('fsyncs files and directories that exist', async () => {
      const storage = make();
      await writeFile(join(dir, 'f'), 'x');
      await expect(storage.fsyncFile(join(dir, 'f'))).resolves.toBeUndefined();
      await expect(storage.fsyncDir(dir)).resolves.toBeUndefined();
    });

    it('fails for paths that do not exist', async () => {
      const storage = make();
      await expect(storage.fsyncFile(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
      await expect(storage.freeBytes(join(dir, 'missing', 'deeper'))).rejects.toThrow();
    });
  });
}
