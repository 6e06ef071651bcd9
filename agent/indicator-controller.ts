import type { Indicator, IndicatorState } from '../hal/interfaces.js';
import { errorMessage } from './errors.js';
import type { Service } from './lifecycle.js';
import type { Logger } from './log.js';
import type { RecorderStatus } from './state.js';

export interface IndicatorControllerDeps {
  indicator: Indicator;
  log: Logger;
  recorderStatus: () => RecorderStatus;
  /** Pending requests waiting for the owner; undefined when requests are off. */
  pendingCount?: () => Promise<number>;
  /** How often to look again: a decline from the CLI happens in another process. */
  refreshMs?: number;
}

/**
 * Decides what the indicator shows, most urgent first: a recorder in trouble, a request
 * waiting for the owner, a pause, recording. Everything that may change it calls
 * `refresh`; a timer catches changes made by other processes.
 */
export class IndicatorController implements Service {
  readonly name = 'indicator';
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: IndicatorControllerDeps) {}

  async start(_signal: AbortSignal): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.deps.refreshMs ?? 15_000);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#refreshing;
    await this.deps.indicator.set('off').catch(() => undefined);
  }

  refresh(): Promise<void> {
    this.#refreshing = this.#refreshing.then(async () => {
      try {
        const state = await this.#decide();
        if (state !== this.deps.indicator.current()) await this.deps.indicator.set(state);
      } catch (err) {
        this.deps.log.warn({ err: errorMessage(err) }, 'the indicator could not be set');
      }
    });
    return this.#refreshing;
  }

  async #decide(): Promise<IndicatorState> {
    const recorder = this.deps.recorderStatus().state;
    if (recorder === 'reconnecting') return 'error';
    if (((await this.deps.pendingCount?.()) ?? 0) > 0) return 'pending-request';
    if (recorder === 'paused') return 'paused';
    return recorder === 'recording' ? 'recording' : 'off';
  }
}
