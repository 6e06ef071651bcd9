import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { UserError } from '../errors.js';

const exec = promisify(execFile);

/** A system account's numeric ids. */
export interface AccountIds {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The ids of account `name`, through `id` so that every name service the system uses
 * (files, LDAP, systemd's) is asked, as the service manager would. Without a name: the
 * user running this command.
 */
export async function accountIds(name?: string): Promise<AccountIds> {
  if (name === undefined) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid };
  }
  if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(name)) {
    throw new UserError('bad_user', `"${name}" is not a user name`);
  }
  try {
    const [uid, gid] = await Promise.all([
      exec('id', ['-u', name], { timeout: 5000 }),
      exec('id', ['-g', name], { timeout: 5000 }),
    ]);
    return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new UserError(
      'no_such_user',
      `there is no user ${name}; create it first (deploy/systemd/install.sh does)`,
    );
  }
}

/** The account deploy/systemd/install.sh makes for the agent. */
export const SERVICE_ACCOUNT = 'threshold';

/**
 * The account the agent runs as: `name` when given; for root without one, the service
 * account when it exists (the agent never runs as root under the unit); else the caller.
 */
export async function agentAccount(name?: string): Promise<AccountIds> {
  if (name !== undefined) return accountIds(name);
  const me = await accountIds();
  if (me.uid !== 0) return me;
  return accountIds(SERVICE_ACCOUNT).catch(() => me);
}
