import { type ClipProbe, probeClipWhenReady } from './probe.js';

/** A started ffprobe that has not been given its clip yet. */
interface Spare {
  /** Gives it the clip's path once written, or undefined: there will be none. */
  feed: (ready: Promise<string | undefined>) => void;
  /** Kills it (an export cancelled while it reads). */
  abort: (reason: unknown) => void;
  outcome: Promise<{ probe: ClipProbe } | { error: unknown }>;
  /** It exited before it was given a clip (killed while it waited): not to be used. */
  ended: boolean;
}

/**
 * ffprobe for finished clips (the check before a clip is used), started ahead of need.
 * Loading ffprobe (over 200 shared libraries) takes longer than remuxing a minute of
 * footage in process. Each check starts its ffprobe when the export starts, so loading
 * overlaps the cutting; `warm` goes further and starts one now, which waits on its stdin
 * until an export hands it a clip. The export command warms it before it opens the
 * database; an agent would when a request is pending.
 */
export class ClipProber {
  private spare: Spare | undefined;

  constructor(private readonly ffprobePath: string) {}

  /**
   * Starts a spare ffprobe for the next check, unless one is waiting already (one that
   * died while it waited is replaced).
   */
  warm(): void {
    this.spare = this.waiting() ?? this.start();
  }

  /**
   * What ffprobe reads of the clip whose path `ready` gives (undefined: none was made, and
   * the probe fails). The spare is used if there is one; otherwise ffprobe starts now.
   */
  async probe(ready: Promise<string | undefined>, signal?: AbortSignal): Promise<ClipProbe> {
    const probe = this.waiting() ?? this.start();
    this.spare = undefined;
    const onAbort = () => probe.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    probe.feed(ready);
    try {
      const outcome = await probe.outcome;
      if ('error' in outcome) throw outcome.error;
      return outcome.probe;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the spare, if any: it reads an empty input and exits. */
  close(): void {
    this.spare?.feed(Promise.resolve(undefined));
    this.spare = undefined;
  }

  /** The spare, unless there is none or it died. */
  private waiting(): Spare | undefined {
    return this.spare?.ended ? undefined : this.spare;
  }

  private start(): Spare {
    let feed: Spare['feed'] = () => {};
    const given = new Promise<string | undefined>((resolve) => {
      feed = (ready) => {
        ready.then(resolve, () => resolve(undefined));
      };
    });
    const controller = new AbortController();
    const outcome = probeClipWhenReady(this.ffprobePath, given, {
      signal: controller.signal,
    }).then(
      (probe) => ({ probe }),
      // Settled at once: an unused spare that fails must not go unhandled.
      (error: unknown) => ({ error }),
    );
    const spare: Spare = {
      feed,
      abort: (reason) => controller.abort(reason),
      outcome,
      ended: false,
    };
    void outcome.then(() => {
      spare.ended = true;
    });
    return spare;
  }
}
