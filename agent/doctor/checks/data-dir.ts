import { stat } from 'node:fs/promises';
import type { AccountIds } from '../../provision/system-user.js';
import type { Check } from '../check.js';

/** `dataDir` exists, belongs to the agent's user, and only they may enter it (0700). */
export function dataDirCheck(dataDir: string, account: AccountIds): Check {
  return {
    id: 'data_dir',
    title: 'data directory',
    run: async () => {
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(dataDir);
      } catch {
        return {
          status: 'fail',
          detail: `${dataDir} does not exist`,
          fix: 'run threshold provision, or create it: mkdir -m 700 DIR and chown it to the agent’s user',
        };
      }
      if (!info.isDirectory()) {
        return {
          status: 'fail',
          detail: `${dataDir} is not a directory`,
          fix: 'set dataDir to a directory',
        };
      }
      const problems: string[] = [];
      const fixes: string[] = [];
      if (info.uid !== account.uid) {
        problems.push(`owned by uid ${info.uid}, not ${account.name} (${account.uid})`);
        fixes.push(`chown -R ${account.name}: ${dataDir}`);
      }
      const mode = info.mode & 0o777;
      if (mode !== 0o700) {
        problems.push(`mode ${mode.toString(8).padStart(4, '0')}, not 0700`);
        fixes.push(`chmod 700 ${dataDir}`);
      }
      return problems.length === 0
        ? { status: 'ok', detail: `${dataDir}, owned by ${account.name}, mode 0700` }
        : {
            status: 'fail',
            detail: `${dataDir} is ${problems.join(' and ')}`,
            fix: fixes.join('; '),
          };
    },
  };
}
