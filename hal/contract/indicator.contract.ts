import { describe, expect, it } from 'vitest';
import type { Indicator, IndicatorState } from '../interfaces.js';

const STATES: IndicatorState[] = ['recording', 'pending-request', 'paused', 'error', 'off'];

/** What every Indicator must do. `shown` reads back what the hardware shows, if it can. */
export function indicatorContract(
  name: string,
  make: () => Promise<{ indicator: Indicator; shown(): Promise<string> }>,
) {
  describe(`Indicator contract: ${name}`, () => {
    it('starts off', async () => {
      const { indicator } = await make();
      expect(indicator.current()).toBe('off');
    });

    it('shows each state it is set to, distinguishing a pending request from recording', async () => {
      const { indicator, shown } = await make();
      const seen = new Map<IndicatorState, string>();
      for (const state of STATES) {
        await indicator.set(state);
        expect(indicator.current()).toBe(state);
        seen.set(state, await shown());
      }
      expect(seen.get('pending-request')).not.toBe(seen.get('recording'));
      expect(seen.get('error')).not.toBe(seen.get('off'));
    });
  });
}
