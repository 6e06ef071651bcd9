import type { Writable } from 'node:stream';
import { MediaToolError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ClipProber } from './clip-prober.js';
import { type MuxArgsInput, muxArgs } from './ffmpeg-args.js';
import { progressReader, runMediaTool } from './media-tool.js';
import type { ClipProbe } from './probe.js';
import type { ListOutcome } from './video-cut.js';

export interface MuxInput {
  ffmpegPath: string;
  /** Checks the clip once written. */
  prober: ClipProber;
  mux: MuxArgsInput;
  /** The ffconcat list for a `pipe:0` video input (see `VideoCut.list`). */
  list?: Promise<ListOutcome>;
  signal?: AbortSignal;
  /** Fraction of the mux done, 0..1. */
  report: (fraction: number) => void;
  logger?: Logger;
}

/**
 * The final mux, and ffprobe reading the clip as soon as it is complete (see
 * `probeWhileMaking`). Rejects with the first real failure (an edge encode's error before
 * the mux's).
 */
export async function muxAndProbe(input: MuxInput): Promise<ClipProbe> {
  return probeWhileMaking(
    input.prober,
    input.mux.output,
    async () => {
      try {
        await muxWithFallback(input);
      } catch (err) {
        const listed = input.list ? await input.list : undefined;
        throw listed && 'error' in listed ? listed.error : err;
      }
    },
    input.signal,
  );
}

/**
 * Runs `make`, which writes the clip at `output`, while the prober's ffprobe loads (see
 * `ClipProber`). Resolves with what ffprobe read of the finished clip; rejects with
 * `make`'s error if it fails (ffprobe is ended first).
 */
export async function probeWhileMaking(
  prober: ClipProber,
  output: string,
  make: () => Promise<void>,
  signal?: AbortSignal,
): Promise<ClipProbe> {
  let ready: (path: string | undefined) => void = () => {};
  const probing = prober
    .probe(
      new Promise<string | undefined>((resolve) => {
        ready = resolve;
      }),
      signal,
    )
    .then(
      (probe) => ({ probe }),
      // Settled at once: the probe may fail (killed with the mux) before anyone awaits it.
      (error: unknown) => ({ error }),
    );
  try {
    await make();
  } catch (err) {
    ready(undefined);
    await probing; // the probe of a clip never made fails too; make's error tells why
    throw err;
  }
  ready(output);
  const result = await probing;
  if ('error' in result) throw result.error;
  return result.probe;
}

/** A `moov` reserve that turned out too small falls back to `+faststart`'s rewrite. */
async function muxWithFallback(input: MuxInput): Promise<void> {
  const run = (args: string[]) =>
    runMediaTool(input.ffmpegPath, args, {
      ...(input.signal ? { signal: input.signal } : {}),
      onLine: progressReader(input.mux.durationS, input.report),
      failOn: /Error writing trailer|reserved_moov_size/i,
      ...(input.list ? { stdin: feedList(input.list) } : {}),
    });
  try {
    await run(muxArgs(input.mux));
  } catch (err) {
    if (!(err instanceof MediaToolError) || !/reserved_moov_size/i.test(err.stderr)) throw err;
    input.logger?.warn({ component: 'export' }, 'moov reserve too small; rewriting');
    const { moovBytes: _reserve, ...rewrite } = input.mux;
    await run(muxArgs(rewrite));
  }
}

/** Writes the list to ffmpeg's stdin once known; an empty stdin makes a failed edge fail. */
function feedList(list: Promise<ListOutcome>): (sink: Writable) => void {
  return (sink) => {
    void list.then((outcome) => {
      sink.end('text' in outcome ? outcome.text : '');
    });
  };
}
