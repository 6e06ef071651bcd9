import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import { UserError } from '../../errors.js';
import type { ExportResult } from '../../export/types.js';
import { type CliContext, parseIsoFlag, withConfigOption } from '../context.js';
import { formatBytes, iso } from '../format.js';

interface ExportOptions {
  config: string;
  from: string;
  to: string;
  out: string;
  exact?: boolean;
  audio?: boolean;
  thumbnail?: string;
  json?: boolean;
}

export function registerExport(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('export')
      .description(
        'cut the recorded footage of a time range into an MP4 (audio dropped unless --audio)',
      )
      .requiredOption('--from <iso>', 'range start, ISO-8601 UTC (e.g. 2026-01-31T12:00:00Z)')
      .requiredOption('--to <iso>', 'range end, ISO-8601 UTC')
      .requiredOption(
        '--out <file>',
        'the MP4 to write (for yourself: sharing goes through `threshold share`)',
      )
      .option('--exact', 'no frame outside the range: re-encode the partial group of pictures')
      .option('--audio', 'keep the audio (as AAC)')
      .option('--thumbnail <file>', 'also write a JPEG of a frame of the clip')
      .option('--json', 'print the result as JSON'),
  ).action(async (options: ExportOptions) => {
    const fromMs = parseIsoFlag('--from', options.from);
    const toMs = parseIsoFlag('--to', options.to);
    if (toMs <= fromMs) throw new UserError('bad_flag', '--to: must be after --from');
    const out = resolve(options.out);
    await mustBeFree(out, '--out');
    if (options.thumbnail) await mustBeFree(resolve(options.thumbnail), '--thumbnail');
    const config = await ctx.config(options.config);
    const controller = new AbortController();
    const abort = () => controller.abort(new UserError('interrupted', 'interrupted'));
    process.once('SIGINT', abort);
    try {
      const exported = await withDeviceParts(
        config,
        { log: ctx.logger(config.log.level) },
        async ({ exporter, segments, pins }) => {
          // The clip's check loads while the footage is looked up and pinned.
          exporter.warm();
          const owner = `export:${randomBytes(8).toString('hex')}`;
          try {
            const footage = await segments.overlapping(fromMs, toMs);
            await pins.pin(
              owner,
              footage.map((segment) => segment.id),
            );
            return await exporter.export({
              segments: footage,
              fromMs,
              toMs,
              output: out,
              mode: options.exact ? 'exact' : 'fast',
              audio: Boolean(options.audio),
              ...(options.thumbnail ? { thumbnail: resolve(options.thumbnail) } : {}),
              signal: controller.signal,
              onProgress: terminalProgress(),
            });
          } finally {
            await pins.unpin(owner);
          }
        },
      );
      ctx.out(options.json ? JSON.stringify(asJson(exported), null, 2) : summary(exported));
    } finally {
      process.off('SIGINT', abort);
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    }
  });
}

async function mustBeFree(path: string, flag: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
  );
  if (exists) throw new UserError('bad_flag', `${flag}: ${path} exists; choose a new file`);
  const parent = await stat(dirname(path)).catch(() => null);
  if (!parent?.isDirectory()) {
    throw new UserError('bad_flag', `${flag}: the directory ${dirname(path)} does not exist`);
  }
}

/** Percent done on the terminal (stderr), only when it is one. */
function terminalProgress(): ((fraction: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (fraction) => process.stderr.write(`\rexporting… ${Math.round(fraction * 100)}%`);
}

function asJson(exported: ExportResult) {
  return {
    output: exported.output,
    bytes: exported.bytes,
    durationS: exported.durationS,
    mode: exported.mode,
    method: exported.method,
    audio: exported.audio,
    gaps: exported.gaps.map((gap) => ({ from: iso(gap.fromMs), to: iso(gap.toMs), atS: gap.atS })),
    segments: exported.segments.map((segment) => segment.id),
    ...(exported.thumbnail ? { thumbnail: exported.thumbnail } : {}),
  };
}

function summary(exported: ExportResult): string {
  const cut = { copy: 'fast cut', 'smart-cut': 'exact cut', 're-encode': 'exact cut, re-encoded' };
  const lines = [
    `wrote ${exported.output}: ${exported.durationS.toFixed(1)} s, ` +
      `${formatBytes(exported.bytes)}, ${cut[exported.method]}, audio ${exported.audio}`,
  ];
  for (const gap of exported.gaps) {
    lines.push(
      `no footage ${iso(gap.fromMs)} – ${iso(gap.toMs)} (the clip skips it at ${gap.atS.toFixed(1)} s)`,
    );
  }
  return lines.join('\n');
}
