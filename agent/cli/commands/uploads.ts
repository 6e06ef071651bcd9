import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import type { ShareJob } from '../../share/types.js';
import { type CliContext, withConfigOption } from '../context.js';
import { formatBytes, iso, table } from '../format.js';

/** One clip job as `threshold uploads --json` prints it. */
export interface ListedUpload {
  id: number;
  requestId: string;
  clipIndex: number;
  start: string;
  end: string;
  state: ShareJob['state'];
  bytesSent: number;
  bytesTotal: number | null;
  attempts: number;
  lastError: string | null;
  failure: string | null;
  updatedAt: string;
}

export function registerUploads(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('uploads')
      .description('list the clips you shared and how far each is on its way to the agency')
      .option('--json', 'print a JSON array'),
  ).action(async (options: { config: string; json?: boolean }) => {
    const config = await ctx.config(options.config);
    const jobs = await withDeviceParts(config, { log: ctx.logger(config.log.level) }, (parts) =>
      parts.consent.jobs(),
    );
    const listed = jobs.map(listUpload);
    if (options.json) {
      ctx.out(JSON.stringify(listed, null, 2));
      return;
    }
    if (listed.length === 0) {
      ctx.out('nothing shared yet');
      return;
    }
    ctx.out(
      table([
        ['JOB', 'REQUEST', 'CLIP', 'STATE', 'SENT', 'ATTEMPTS', 'LAST ERROR'],
        ...jobs.map((job) => [
          String(job.id),
          job.requestId,
          String(job.clipIndex),
          job.state === 'failed' ? `failed: ${job.failure ?? ''}` : job.state,
          progressText(job),
          String(job.attempts),
          job.lastError ?? '-',
        ]),
      ]),
    );
  });
}

export function listUpload(job: ShareJob): ListedUpload {
  return {
    id: job.id,
    requestId: job.requestId,
    clipIndex: job.clipIndex,
    start: iso(job.start),
    end: iso(job.end),
    state: job.state,
    bytesSent: job.bytesSent,
    bytesTotal: job.bytesTotal,
    attempts: job.attempts,
    lastError: job.lastError,
    failure: job.failure,
    updatedAt: iso(job.updatedAt),
  };
}

/** "12.0 MB of 40.1 MB (30 %)", or what the job waits for. */
export function progressText(job: ShareJob): string {
  if (job.bytesTotal === null) return job.state === 'failed' ? '-' : 'preparing';
  const percent = job.bytesTotal > 0 ? Math.floor((100 * job.bytesSent) / job.bytesTotal) : 100;
  return `${formatBytes(job.bytesSent)} of ${formatBytes(job.bytesTotal)} (${percent} %)`;
}
