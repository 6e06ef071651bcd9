import type { Clock, MotionEvent, MotionSource } from '../../hal/interfaces.js';
import { errorMessage } from '../errors.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { MotionStore } from './motion-store.js';

/**
 * Records the events of a motion sensor beside the video (the camera's ONVIF events, a
 * PIR sensor) in the motion store, as the recorder records scene motion: an event is
 * stored when it opens, so retention keeps the footage around it even if the agent dies
 * before it ends, and closed when it ends. Retention reads the store, whatever the source.
 *
 * INVARIANTS: store writes happen in the order the source reported them (one promise
 * chain); a closing event finds the row its opening made by its start time; events still
 * open at `stop` end then.
 */
export class MotionService implements Service {
  readonly name = 'motion';
  readonly #open = new Map<number, Promise<number>>();
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly deps: {
      source: MotionSource;
      store: MotionStore;
      clock: Clock;
      log: Logger;
    },
  ) {}

  async start(signal: AbortSignal): Promise<void> {
    this.#stopped = false;
    await this.deps.source.start(signal, (event) => this.#record(event));
    this.deps.log.info({ source: this.deps.source.kind }, 'motion source started');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.deps.source.stop();
    const now = this.deps.clock.now();
    for (const [start, opened] of this.#open) {
      this.#then(async () => this.deps.store.close(await opened, Math.max(start, now), 1));
    }
    this.#open.clear();
    await this.#chain;
  }

  #record(event: MotionEvent): void {
    if (this.#stopped) return;
    if (event.end === null) {
      if (this.#open.has(event.start)) return;
      const opened = this.#chain.then(() => this.deps.store.open(event));
      this.#open.set(event.start, opened);
      this.#then(async () => {
        await opened;
      });
      this.deps.log.info({ start: event.start, source: event.source }, 'motion started');
      return;
    }
    const end = event.end;
    const opened = this.#open.get(event.start);
    this.#open.delete(event.start);
    this.#then(async () => {
      if (opened) await this.deps.store.close(await opened, end, event.score);
      else await this.deps.store.open(event);
    });
    this.deps.log.info({ start: event.start, end, source: event.source }, 'motion ended');
  }

  #then(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch((err) => {
      this.deps.log.error({ err: errorMessage(err) }, 'recording a motion event failed');
    });
  }
}
