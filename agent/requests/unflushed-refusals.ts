import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Refusal audit entries that the device acknowledged before they were durable (see
 * `Intake`: messages refused before their signature verified), grouped by the audit batch
 * that will commit them. Bounds how many there are at once: past the bound, the caller
 * waits for the oldest batch, so memory and what a crash can lose stay bounded when the
 * disk is slower than the flood. A batch that fails is logged once, with how many of
 * these entries it took with it.
 *
 * INVARIANTS: audit batches commit in the order they were opened, so the first key of
 * `#batches` is the oldest batch still to commit.
 */

/** At most this many refusal entries are acknowledged and not yet committed. */
export const MAX_UNFLUSHED_REFUSALS = 256;

export class UnflushedRefusals {
  /** Each batch's commit, with how many tracked entries it holds; oldest first. */
  readonly #batches = new Map<Promise<void>, number>();
  #count = 0;

  constructor(private readonly deps: { log: Logger }) {}

  /** Tracked entries not yet committed. */
  get count(): number {
    return this.#count;
  }

  /**
   * Tracks one entry of the batch whose commit is `written`. Returns undefined when the
   * message may be acknowledged now, else a promise (that never rejects) to wait for
   * first: the commit of the oldest batch.
   */
  track(written: Promise<void>): Promise<void> | undefined {
    const count = this.#batches.get(written);
    this.#batches.set(written, (count ?? 0) + 1);
    this.#count += 1;
    if (count === undefined) {
      written.then(
        () => this.#settle(written),
        (err: unknown) => {
          // Acknowledged already: these entries are lost. The chain stays valid, as the
          // batch rolled back whole.
          const lost = this.#settle(written);
          this.deps.log.error({ err: errorMessage(err), lost }, 'refusal audit entries were lost');
        },
      );
    }
    if (this.#count <= MAX_UNFLUSHED_REFUSALS) return undefined;
    const oldest = this.#batches.keys().next().value;
    return oldest?.catch(() => undefined);
  }

  /** Resolves once every batch tracked so far has committed or failed. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#batches.keys());
  }

  #settle(written: Promise<void>): number {
    const count = this.#batches.get(written) ?? 0;
    this.#batches.delete(written);
    this.#count -= count;
    return count;
  }
}
