import { describe, expect, it } from 'vitest';
import { parseIsoFlag } from './context.js';
import { protectRequestIds } from './main.js';

describe('parseIsoFlag', () => {
  it('reads times with a zone', () => {
    expect(parseIsoFlag('--from', '2026-01-31T12:00:00Z')).toBe(Date.UTC(2026, 0, 31, 12));
    expect(parseIsoFlag('--from', '2026-01-31T13:00:00.500+01:00')).toBe(
      Date.UTC(2026, 0, 31, 12, 0, 0, 500),
    );
  });

  it('refuses a time without a zone (it would be read as local time) and names the flag', () => {
    for (const value of [
      '2026-01-31T12:00:00',
      '2026-01-31',
      'yesterday',
      '2026-13-01T00:00:00Z',
    ]) {
      expect(() => parseIsoFlag('--to', value)).toThrow(/^--to: not an ISO-8601 time/);
    }
  });
});

describe('request ids that start with a dash', () => {
  it('are moved behind -- so that they read as the argument', () => {
    const id = '-IT6jVT9zYYuJxWq0a1b2c';
    expect(protectRequestIds(['share', '--config', 'c.json', id, '--yes'])).toEqual([
      'share',
      '--config',
      'c.json',
      '--yes',
      '--',
      id,
    ]);
    expect(protectRequestIds(['share', '--config', 'c.json', '--', id])).toEqual([
      'share',
      '--config',
      'c.json',
      '--',
      id,
    ]);
    expect(protectRequestIds(['status', '--json'])).toEqual(['status', '--json']);
  });
});
