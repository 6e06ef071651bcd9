import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccountIds } from '../../provision/system-user.js';
import type { Check } from '../check.js';

/**
 * The config (it holds passwords) and the key files are readable by the agent's user and
 * by nobody else: mode 0600 (or stricter), owned by that user. The agent itself refuses a
 * key file that others may read; this says so before it has to.
 */
export function fileModesCheck(
  files: { configPath: string; keysDir: string },
  account: AccountIds,
): Check {
  return {
    id: 'file_modes',
    title: 'config and key files',
    run: async () => {
      const paths = [files.configPath, ...(await keyFiles(files.keysDir))];
      const problems: string[] = [];
      const fixes: string[] = [];
      for (const path of paths) {
        let info: Awaited<ReturnType<typeof stat>>;
        try {
          info = await stat(path);
        } catch {
          problems.push(`${path} cannot be read`);
          continue;
        }
        const mode = info.mode & 0o777;
        if ((mode & 0o077) !== 0) {
          problems.push(
            `${path} is mode ${mode.toString(8).padStart(4, '0')} (others may read it)`,
          );
          fixes.push(`chmod 600 ${path}`);
        }
        if (info.uid !== account.uid && account.uid !== 0) {
          problems.push(`${path} is not owned by ${account.name}, so the agent cannot read it`);
          fixes.push(`chown ${account.name}: ${path}`);
        }
      }
      if (problems.length > 0) {
        return {
          status: 'fail',
          detail: problems.join('; '),
          fix: fixes.join('; ') || 'restore the files',
        };
      }
      return {
        status: 'ok',
        detail: `${paths.length} file${paths.length === 1 ? '' : 's'} readable by ${account.name} only`,
      };
    },
  };
}

async function keyFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(dir, e.name));
  } catch {
    // No keys yet: the agent makes the device secret on first start.
    return [];
  }
}
