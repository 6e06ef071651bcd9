import type { Indicator, IndicatorState } from '../interfaces.js';

/** An indicator that remembers every state it was set to, for tests and the demo. */
export class EmulatedIndicator implements Indicator {
  readonly history: IndicatorState[] = [];

  async set(state: IndicatorState): Promise<void> {
    this.history.push(state);
  }

  current(): IndicatorState {
    return this.history.at(-1) ?? 'off';
  }
}
