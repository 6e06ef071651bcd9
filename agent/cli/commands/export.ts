import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import { DeviceKeys } from '../../crypto/device-keys.js';
import { agentPaths, openAgentDatabase } from '../../db/open.js';
import { UserError } from '../../errors.js';
import { Exporter } from '../../export/exporter.js';
import { agentVersion, ffmpegVersion, type SealedClip, sealClip } from '../../export/seal-clip.js';
import type { ExportResult, SegmentRow } from '../../export/types.js';
import { Pins } from '../../recording/pins.js';
import { SegmentIndex } from '../../recording/segment-index.js';
import { type CliContext, parseIsoFlag, withConfigOption } from '../context.js';
import { formatBytes, iso } from '../format.js';
import { withRequestStore } from './requests.js';

interface ExportOptions {
  config: string;
  from: string;
  to: string;
  out: string;
  exact?: boolean;
  audio?: boolean;
  thumbnail?: string;
  json?: boolean;
  sealTo?: string;
  requestId?: string;
}

const REQUEST_ID = /^[A-Za-z0-9_-]{22}$/;

export function registerExport(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('export')
      .description(
        'cut the recorded footage of a time range into an MP4 (audio dropped unless --audio)',
      )
      .requiredOption('--from <iso>', 'range start, ISO-8601 UTC (e.g. 2026-01-31T12:00:00Z)')
      .requiredOption('--to <iso>', 'range end, ISO-8601 UTC')
      .requiredOption('--out <file>', 'the MP4 to write (with --seal-to: the sealed file)')
      .option('--exact', 'no frame outside the range: re-encode the partial group of pictures')
      .option('--audio', 'keep the audio (as AAC)')
      .option('--thumbnail <file>', 'also write a JPEG of a frame of the clip')
      .option('--json', 'print the result as JSON')
      .option('--seal-to <key>', "seal the clip to this X25519 public key (base64), the request's")
      .option('--request-id <id>', 'the request the sealed clip answers (with --seal-to)'),
  ).action(async (options: ExportOptions) => {
    const fromMs = parseIsoFlag('--from', options.from);
    const toMs = parseIsoFlag('--to', options.to);
    if (toMs <= fromMs) throw new UserError('bad_flag', '--to: must be after --from');
    const seal = sealOptions(options);
    const out = resolve(options.out);
    await mustBeFree(out, '--out');
    if (options.thumbnail) await mustBeFree(resolve(options.thumbnail), '--thumbnail');
    const config = await ctx.config(options.config);
    const logger = ctx.logger(config.log.level);
    const exporter = new Exporter({
      ffmpegPath: config.ffmpeg.ffmpegPath,
      ffprobePath: config.ffmpeg.ffprobePath,
      logger,
    });
    // The clip's check loads while the database is opened and the footage pinned.
    exporter.warm();
    const controller = new AbortController();
    const abort = () => controller.abort(new UserError('interrupted', 'interrupted'));
    process.once('SIGINT', abort);
    try {
      const payloadSha256 = seal ? await requestPayloadSha256(config, seal.requestId) : undefined;
      const done = await withPinnedFootage(config, fromMs, toMs, async (segments) => {
        const request = {
          segments,
          fromMs,
          toMs,
          mode: options.exact ? ('exact' as const) : ('fast' as const),
          audio: Boolean(options.audio),
          ...(options.thumbnail ? { thumbnail: resolve(options.thumbnail) } : {}),
          signal: controller.signal,
          onProgress: terminalProgress(),
        };
        if (!seal || !payloadSha256) {
          return { exported: await exporter.export({ ...request, output: out }) };
        }
        const work = await mkdtemp(join(dirname(out), '.export-clip-'));
        try {
          const clip = join(work, 'clip.mp4');
          const exported = await exporter.export({ ...request, output: clip });
          const sealed = await sealClip({
            clip,
            exported,
            output: out,
            recipient: seal.recipient,
            requestId: seal.requestId,
            requestPayloadSha256: payloadSha256,
            clipIndex: 0,
            fromMs,
            toMs,
            decidedAtMs: Date.now(),
            clockSync: 'unknown',
            signer: await DeviceKeys.load(config.dataDir),
            agentVersion: await agentVersion(),
            ffmpegVersion: await ffmpegVersion(config.ffmpeg.ffmpegPath),
            signal: controller.signal,
            logger,
          });
          return { exported: { ...exported, output: out, bytes: sealed.sealed.bytes }, sealed };
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      });
      ctx.out(options.json ? JSON.stringify(asJson(done), null, 2) : summary(done));
    } finally {
      exporter.close();
      process.off('SIGINT', abort);
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    }
  });
}

function sealOptions(options: ExportOptions): { recipient: Uint8Array; requestId: string } | null {
  if (!options.sealTo && !options.requestId) return null;
  if (!options.sealTo || !options.requestId) {
    throw new UserError('bad_flag', '--seal-to and --request-id go together');
  }
  if (!/^[A-Za-z0-9+/]{43}=$/.test(options.sealTo)) {
    throw new UserError('bad_flag', '--seal-to: not a base64 X25519 public key (32 bytes)');
  }
  if (!REQUEST_ID.test(options.requestId)) {
    throw new UserError(
      'bad_flag',
      '--request-id: not a request id (22 characters of [A-Za-z0-9_-])',
    );
  }
  return {
    recipient: new Uint8Array(Buffer.from(options.sealTo, 'base64')),
    requestId: options.requestId,
  };
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

async function requestPayloadSha256(config: Config, requestId: string): Promise<string> {
  const request = await withRequestStore(config, ({ store }) => store.get(requestId));
  if (!request)
    throw new UserError('unknown_request', `--request-id: no request ${requestId} here`);
  return request.payloadSha256;
}

/** Looks the range up and pins its segments, so retention cannot remove them mid-cut. */
async function withPinnedFootage<T>(
  config: Config,
  fromMs: number,
  toMs: number,
  fn: (segments: SegmentRow[]) => Promise<T>,
): Promise<T> {
  const db = await openAgentDatabase(config);
  const pins = new Pins(db);
  const owner = `export:${randomBytes(8).toString('hex')}`;
  try {
    const segments = await new SegmentIndex(db, agentPaths(config.dataDir).segments).overlapping(
      fromMs,
      toMs,
    );
    await pins.pin(
      owner,
      segments.map((segment) => segment.id),
    );
    return await fn(segments);
  } finally {
    await pins.unpin(owner);
    await db.close();
  }
}

/** Percent done on the terminal (stderr), only when it is one. */
function terminalProgress(): ((fraction: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (fraction) => process.stderr.write(`\rexporting… ${Math.round(fraction * 100)}%`);
}

interface Done {
  exported: ExportResult;
  sealed?: SealedClip;
}

function asJson({ exported, sealed }: Done) {
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
    ...(sealed ? { sealed: { sha256: sealed.sealed.sha256, custody: sealed.custody } } : {}),
  };
}

function summary({ exported, sealed }: Done): string {
  const cut = { copy: 'fast cut', 'smart-cut': 'exact cut', 're-encode': 'exact cut, re-encoded' };
  const lines = [
    `${sealed ? 'sealed' : 'wrote'} ${exported.output}: ${exported.durationS.toFixed(1)} s, ` +
      `${formatBytes(exported.bytes)}, ${cut[exported.method]}, audio ${exported.audio}`,
  ];
  for (const gap of exported.gaps) {
    lines.push(
      `no footage ${iso(gap.fromMs)} – ${iso(gap.toMs)} (the clip skips it at ${gap.atS.toFixed(1)} s)`,
    );
  }
  if (sealed) lines.push(`custody record: ${sealed.custody}`);
  return lines.join('\n');
}
