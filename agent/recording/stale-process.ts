import { readFile, rm, writeFile } from 'node:fs/promises';

/**
 * An agent killed with SIGKILL leaves its ffmpeg running, still writing segments. The
 * recorder writes ffmpeg's pid to a file; the next start kills that process — when its
 * command line shows it is ours — before reconciling the segment directory.
 */
export async function killStaleProcess(
  pidFile: string,
  marker: string,
  timeoutMs = 3000,
): Promise<boolean> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return false;
  }
  await rm(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1) return false;
  let cmdline: string;
  try {
    cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  } catch {
    return false; // gone already
  }
  if (!cmdline.includes(marker)) return false; // the pid now belongs to someone else
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // A killed child of a dead parent is reaped by init; until then it is a zombie (Z).
      if (/^\d+ \(.*\) Z/.test(stat)) return true;
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export async function writePidFile(pidFile: string, pid: number): Promise<void> {
  await writeFile(pidFile, `${pid}\n`);
}
