import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Indicator, IndicatorState } from '../interfaces.js';

/** Brightness and kernel trigger for each state of a single-colour LED. */
const PATTERNS: Record<IndicatorState, { trigger: string; brightness: number }> = {
  off: { trigger: 'none', brightness: 0 },
  recording: { trigger: 'none', brightness: 0 },
  paused: { trigger: 'heartbeat', brightness: 1 },
  'pending-request': { trigger: 'timer', brightness: 1 },
  error: { trigger: 'none', brightness: 1 },
};

/**
 * An LED under `/sys/class/leds/NAME` (the kernel's LED class: `trigger` and
 * `brightness` files). A pending request blinks it; recording leaves it dark, since the
 * owner needs telling only when something waits for them.
 */
export class SysfsLedIndicator implements Indicator {
  #state: IndicatorState = 'off';

  constructor(private readonly ledDir: string) {}

  async set(state: IndicatorState): Promise<void> {
    const pattern = PATTERNS[state];
    await writeFile(join(this.ledDir, 'trigger'), pattern.trigger);
    if (pattern.trigger === 'none') {
      await writeFile(join(this.ledDir, 'brightness'), String(pattern.brightness));
    }
    this.#state = state;
  }

  current(): IndicatorState {
    return this.#state;
  }
}
