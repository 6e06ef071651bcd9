import { execFile } from 'node:child_process';

/** Duration of a media file in seconds per ffprobe, or null when it cannot tell. */
export function probeDurationSeconds(ffprobePath: string, path: string): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(
      ffprobePath,
      ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path],
      { timeout: 10_000 },
      (err, stdout) => {
        const seconds = Number(stdout.trim());
        resolve(err || !Number.isFinite(seconds) || seconds <= 0 ? null : seconds);
      },
    );
  });
}
