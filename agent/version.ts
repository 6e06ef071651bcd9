import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/**
 * This agent's version, from the nearest package.json named `threshold` above this file
 * (the repository's, whether this runs from source or from `dist/`). Read once; `--version`
 * and the custody record both say it.
 */
export function agentVersion(): string {
  if (cached !== undefined) return cached;
  let dir = import.meta.dirname;
  for (let level = 0; level < 5; level++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'threshold' && pkg.version) {
        cached = pkg.version.slice(0, 64);
        return cached;
      }
    } catch (err) {
      // No package.json at this level: look one up.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    dir = dirname(dir);
  }
  cached = 'unknown';
  return cached;
}
