import { access, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatBytes } from '../../cli/format.js';
import type { Check } from '../check.js';

/** Free space on the data directory's file system against `retention.minFreeBytes`. */
export function freeSpaceCheck(dataDir: string, minFreeBytes: number): Check {
  return {
    id: 'free_space',
    title: 'free space',
    run: async () => {
      const fs = await statfs(await nearestExisting(dataDir));
      const free = fs.bavail * fs.bsize;
      const detail = `${formatBytes(free)} free for ${dataDir}, reserve (retention.minFreeBytes) ${formatBytes(minFreeBytes)}`;
      if (free < minFreeBytes) {
        return {
          status: 'fail',
          detail,
          fix: 'free space on that file system, give dataDir a larger one, or lower retention.minFreeBytes',
        };
      }
      if (free < 2 * minFreeBytes) {
        return {
          status: 'warn',
          detail,
          fix: 'recording stops evicting only at the reserve; there is little room above it',
        };
      }
      return { status: 'ok', detail };
    },
  };
}

/** The directory itself, or the closest parent that exists: the file system it will be on. */
async function nearestExisting(path: string): Promise<string> {
  let current = path;
  for (;;) {
    try {
      await access(current);
      return current;
    } catch {
      const parent = dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}
