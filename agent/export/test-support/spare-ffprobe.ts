import { readdir, readFile } from 'node:fs/promises';
import { waitFor } from '../../test-support/poll.js';

/**
 * The clip check's spare ffprobe (see `ClipProber.warm`), watched from outside through
 * Linux's /proc, so that tests and the export bench can wait until it has loaded without
 * the prober having a method for it.
 */

/** Pids of this process's children whose command name is `name`. */
export async function childrenNamed(name: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // "pid (comm) state ppid …" (proc(5)); comm may hold spaces or ')', so split at the last.
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const close = stat.lastIndexOf(')');
    if (close < 0 || stat.slice(stat.indexOf('(') + 1, close) !== name) continue;
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === process.pid) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Whether `pid` is an ffprobe that has loaded and sleeps reading its stdin, waiting for a
 * clip (its input is a socket pair under Node, a pipe otherwise).
 */
export async function waitingOnInput(pid: number): Promise<boolean> {
  try {
    const [comm, wchan] = await Promise.all([
      readFile(`/proc/${pid}/comm`, 'utf8'),
      readFile(`/proc/${pid}/wchan`, 'utf8'),
    ]);
    return comm.trim() === 'ffprobe' && /unix_stream_read|pipe_read/.test(wchan);
  } catch {
    return false; // it has exited
  }
}

/**
 * Resolves with the pid of a spare ffprobe (this process's child, or `pid` when given) once
 * it waits on its input; fails after `timeoutMs`.
 */
export async function spareWaiting(
  options: { pid?: number; timeoutMs?: number } = {},
): Promise<number> {
  return waitFor(
    async () => {
      const pids = options.pid !== undefined ? [options.pid] : await childrenNamed('ffprobe');
      for (const pid of pids) if (await waitingOnInput(pid)) return pid;
      return undefined;
    },
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 5, what: 'a spare ffprobe to load' },
  );
}
