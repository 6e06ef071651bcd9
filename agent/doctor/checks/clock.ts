import type { Check, Finding } from '../check.js';
import { runTool } from './run-tool.js';

/**
 * The system clock is synchronised, and not behind the time floor the agent saved (a
 * clock reset to 1970 by a dead RTC battery). Requests are judged by the clock: a wrong
 * one makes valid requests look expired, or expired ones valid.
 */

export interface ClockSync {
  /** null: could not tell. */
  readonly synchronized: boolean | null;
  /** How it was read. */
  readonly via: string;
}

/** The saved floor (`agent/requests/clock-floor.ts`) and whether the clock is behind it. */
export interface FloorReading {
  readonly floor: number;
  readonly behind: boolean;
}

/**
 * systemd's view (`timedatectl`, which asks timedated over D-Bus), else the kernel's: the
 * state adjtimex(2) returns is TIME_ERROR (5) while no time daemon keeps the clock in
 * sync (STA_UNSYNC). Node has no adjtimex; Python's ctypes calls it, read-only (modes 0).
 */
export async function readClockSync(
  signal: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClockSync> {
  const timedatectl = await runTool(
    'timedatectl',
    ['show', '--property=NTPSynchronized', '--value'],
    signal,
    env,
  );
  const answer = timedatectl.stdout.trim();
  if (timedatectl.code === 0 && (answer === 'yes' || answer === 'no')) {
    return { synchronized: answer === 'yes', via: 'timedatectl' };
  }
  const adjtimex = await runTool('python3', ['-c', ADJTIMEX_PY], signal, env);
  const state = Number(adjtimex.stdout.trim());
  if (adjtimex.code === 0 && Number.isInteger(state) && state >= 0 && state <= 5) {
    return { synchronized: state !== TIME_ERROR, via: 'adjtimex' };
  }
  return { synchronized: null, via: 'none' };
}

const TIME_ERROR = 5;
const ADJTIMEX_PY = [
  'import ctypes, ctypes.util',
  'libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)',
  'buf = ctypes.create_string_buffer(1024)',
  'print(libc.adjtimex(buf))',
].join('\n');

export function clockCheck(deps: {
  readSync: (signal: AbortSignal) => Promise<ClockSync>;
  /** null: the agent has saved no floor yet (it never ran). */
  readFloor: () => Promise<FloorReading | null>;
}): Check {
  return {
    id: 'clock',
    title: 'system clock',
    run: async (signal) =>
      judgeClock(await deps.readSync(signal), await deps.readFloor(), Date.now()),
  };
}

export function judgeClock(sync: ClockSync, floor: FloorReading | null, now: number): Finding {
  if (floor?.behind) {
    return {
      status: 'fail',
      detail: `the clock reads ${iso(now)}, before ${iso(floor.floor)}, a time this device has already seen: it was reset, and requests are refused until it is right`,
      fix: 'set the time (enable NTP: timedatectl set-ntp true), and check the RTC battery',
    };
  }
  const floorText = floor ? `; saved time floor ${iso(floor.floor)}` : '';
  if (sync.synchronized === true) {
    return { status: 'ok', detail: `synchronised (${sync.via})${floorText}` };
  }
  if (sync.synchronized === false) {
    return {
      status: 'fail',
      detail: `not synchronised (${sync.via})${floorText}`,
      fix: 'enable a time daemon: timedatectl set-ntp true (systemd-timesyncd), or install chrony',
    };
  }
  return {
    status: 'warn',
    detail: `cannot tell whether the clock is synchronised${floorText}`,
    fix: 'check by hand: timedatectl, chronyc tracking or ntpq -p',
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
