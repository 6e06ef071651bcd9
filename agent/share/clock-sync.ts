import { access } from 'node:fs/promises';
import type { ClockFloor } from '../requests/clock-floor.js';

export type ClockSync = 'synced' | 'unsynced' | 'unknown';

/** systemd-timesyncd creates this file once the clock is synchronised (timedatectl(1)). */
export const TIMESYNC_FLAG = '/run/systemd/timesync/synchronized';

/**
 * How far the decision time in a custody record can be trusted: `unsynced` when the wall
 * clock reads behind the persisted time floor (a reset clock), `synced` when the time
 * service says so, otherwise `unknown`. Reads a file; starts no process.
 */
export async function clockSyncState(
  floor: Pick<ClockFloor, 'isBehind'>,
  flagPath = TIMESYNC_FLAG,
): Promise<ClockSync> {
  if (floor.isBehind()) return 'unsynced';
  return access(flagPath).then(
    () => 'synced' as const,
    () => 'unknown' as const,
  );
}
