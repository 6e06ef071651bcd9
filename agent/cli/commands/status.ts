import type { Command } from 'commander';
import { type DeviceParts, withDeviceParts } from '../../compose.js';
import type { RecorderStatus } from '../../state.js';
import { UI_STATE_KEY, type UiStatus } from '../../ui/owner-page.js';
import { type CliContext, withConfigOption } from '../context.js';
import { formatBytes, iso } from '../format.js';

export interface StatusReport {
  recording: {
    state: RecorderStatus['state'] | 'not_running';
    since: string | null;
    pauseReason: string | null;
    lastHeartbeat: string | null;
  };
  segments: {
    count: number;
    bytes: number;
    pinnedBytes: number;
    oldest: string | null;
    newest: string | null;
  };
  gaps: number;
  motionEvents: number;
  lastError: { at: string; message: string } | null;
  /** Shared clips on their way: jobs not yet uploaded, failed ones, outbox bytes. */
  uploads: { waiting: number; failed: number; outboxBytes: number };
  /** The owner's page: where it listens, or why it cannot (null before it first started). */
  page: {
    state: UiStatus['state'];
    url: string | null;
    lastError: { at: string; message: string } | null;
  } | null;
}

export function registerStatus(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('status')
      .description('show recording state, footage held, motion events and the last error')
      .option('--json', 'print JSON')
      .option(
        '--check',
        'exit 1 unless the agent is recording (or paused on purpose); for health checks',
      ),
  ).action(async (options: { config: string; json?: boolean; check?: boolean }) => {
    const config = await ctx.config(options.config);
    await withDeviceParts(config, { log: ctx.logger(config.log.level) }, async (parts) => {
      const report = await statusReport(parts, Date.now());
      ctx.out(options.json ? JSON.stringify(report, null, 2) : formatStatus(report));
      const healthy = report.recording.state === 'recording' || report.recording.state === 'paused';
      if (options.check && !healthy) process.exitCode = 1;
    });
  });
}

export async function statusReport(
  { db, config, state, segments, motion, jobs }: DeviceParts,
  now: number,
): Promise<StatusReport> {
  const recorder = await state.get<RecorderStatus>('recorder');
  const page = await state.get<UiStatus>(UI_STATE_KEY);
  const summary = await segments.summary();
  const shared = await jobs.list();
  const gaps = await db.get<{ n: number }>(
    "SELECT COUNT(*) AS n FROM recorder_runs WHERE end_reason IS NOT NULL AND end_reason NOT IN ('stopped', 'agent_stopped', 'paused')",
  );
  // A heartbeat older than three stall periods means no agent is recording now.
  const alive =
    recorder?.heartbeat !== undefined &&
    now - recorder.heartbeat < config.recording.stallSeconds * 3000;
  const running =
    recorder && recorder.state !== 'stopped' && (alive || recorder.state === 'paused');
  return {
    recording: {
      state: running ? recorder.state : 'not_running',
      since: running ? iso(recorder.since) : null,
      pauseReason: recorder?.pauseReason ?? null,
      lastHeartbeat: recorder?.heartbeat ? iso(recorder.heartbeat) : null,
    },
    segments: {
      count: summary.count,
      bytes: summary.bytes,
      pinnedBytes: summary.pinnedBytes,
      oldest: summary.oldest === null ? null : iso(summary.oldest),
      newest: summary.newest === null ? null : iso(summary.newest),
    },
    gaps: gaps?.n ?? 0,
    motionEvents: await motion.count(),
    lastError: recorder?.lastError
      ? { at: iso(recorder.lastError.at), message: recorder.lastError.message }
      : null,
    uploads: {
      waiting: shared.filter((job) => job.state !== 'uploaded' && job.state !== 'failed').length,
      failed: shared.filter((job) => job.state === 'failed').length,
      outboxBytes: await jobs.outboxBytes(),
    },
    page: page
      ? {
          state: page.state,
          url: page.url ?? null,
          lastError: page.lastError
            ? { at: iso(page.lastError.at), message: page.lastError.message }
            : null,
        }
      : null,
  };
}

function formatStatus(report: StatusReport): string {
  const lines = [
    `recording:      ${report.recording.state.replace('_', ' ')}${report.recording.since ? ` since ${report.recording.since}` : ''}`,
  ];
  if (report.recording.pauseReason) lines.push(`paused because: ${report.recording.pauseReason}`);
  lines.push(
    `footage:        ${report.segments.count} segments, ${formatBytes(report.segments.bytes)} (${formatBytes(report.segments.pinnedBytes)} held for requests)`,
    `oldest/newest:  ${report.segments.oldest ?? '-'} / ${report.segments.newest ?? '-'}`,
    `gaps:           ${report.gaps}`,
    `motion events:  ${report.motionEvents}`,
    `last error:     ${report.lastError ? `${report.lastError.at} ${report.lastError.message}` : 'none'}`,
    `uploads:        ${report.uploads.waiting} clips on their way (${formatBytes(report.uploads.outboxBytes)} sealed in the outbox), ${report.uploads.failed} refused by the agency`,
  );
  if (report.page) {
    const { page } = report;
    lines.push(
      `owner page:     ${page.state === 'listening' ? `listening on ${page.url}` : page.state}${page.state === 'failing' && page.lastError ? ` (${page.lastError.at} ${page.lastError.message})` : ''}`,
    );
  }
  return lines.join('\n');
}
