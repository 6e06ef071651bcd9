import type { Writable } from 'node:stream';
import { MediaToolError } from '../errors.js';
import type { Logger } from '../log.js';
import { type MuxArgsInput, muxArgs } from './ffmpeg-args.js';
import { progressReader, runMediaTool } from './media-tool.js';
import { type ClipProbe, probeClipWhenReady } from './probe.js';
import type { ListOutcome } from './video-cut.js';

export interface MuxInput {
  ffmpegPath: string;
  ffprobePath: string;
  mux: MuxArgsInput;
  /** The ffconcat list for a `pipe:0` video input (see `VideoCut.list`). */
  list?: Promise<ListOutcome>;
  signal?: AbortSignal;
  /** Fraction of the mux done, 0..1. */
  report: (fraction: number) => void;
  logger?: Logger;
}

/**
 * The final mux, and ffprobe reading the clip as soon as it is complete: both processes
 * start at once, so loading ffprobe costs nothing. Resolves with what ffprobe read;
 * rejects with the first real failure (an edge encode's error before the mux's).
 */
export async function muxAndProbe(input: MuxInput): Promise<ClipProbe> {
  let ready: (path: string | undefined) => void = () => {};
  const probing = probeClipWhenReady(
    input.ffprobePath,
    new Promise<string | undefined>((resolve) => {
      ready = resolve;
    }),
    input.signal,
  ).then(
    (probe) => ({ probe }),
    // Settled at once: the probe may fail (killed with the mux) before anyone awaits it.
    (error: unknown) => ({ error }),
  );
  try {
    await muxWithFallback(input);
  } catch (err) {
    ready(undefined);
    await probing; // the probe of a clip never made fails too; the mux's error tells why
    const listed = input.list ? await input.list : undefined;
    throw listed && 'error' in listed ? listed.error : err;
  }
  ready(input.mux.output);
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
