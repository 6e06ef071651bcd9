import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isLoopbackListen } from '../config/schema.js';
import { html, raw } from './html.js';
import { parseRange } from './media.js';
import { normalizeCode } from './pairing.js';
import { LoginLimiter } from './rate-limit.js';
import { shareForm } from './schemas.js';
import { allowedHosts, csrfToken, hostAllowed, originAllowed, sameSecret } from './security.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('host and origin checks', () => {
  const hosts = allowedHosts('192.168.1.20', 8470, ['doorbell.local']);

  it('answers to the configured address, localhost, 127.0.0.1 and extra names, with the port', () => {
    for (const host of [
      '192.168.1.20:8470',
      'localhost:8470',
      '127.0.0.1:8470',
      'DOORBELL.local:8470',
    ]) {
      expect(hostAllowed(req({ host }), hosts), host).toBe(true);
    }
    for (const host of [
      'evil.example:8470',
      '192.168.1.20',
      'localhost:8471',
      '127.0.0.1.evil.example:8470',
      '',
    ]) {
      expect(hostAllowed(req({ host }), hosts), host).toBe(false);
    }
    expect(hostAllowed(req({}), hosts)).toBe(false);
    expect(hostAllowed(req({ host: '[::1]:9' }), allowedHosts('::1', 9, []))).toBe(true);
  });

  it('takes a POST only from our own origin, same-origin when the browser says', () => {
    const ok = { origin: 'http://192.168.1.20:8470' };
    expect(originAllowed(req(ok), 'http', hosts)).toBe(true);
    expect(originAllowed(req({ ...ok, 'sec-fetch-site': 'same-origin' }), 'http', hosts)).toBe(
      true,
    );
    for (const headers of [
      {},
      { origin: 'null' },
      { origin: 'https://192.168.1.20:8470' },
      { origin: 'http://evil.example:8470' },
      { origin: 'http://192.168.1.20:8470/path' },
      { ...ok, 'sec-fetch-site': 'cross-site' },
      { ...ok, 'sec-fetch-site': 'same-site' },
    ]) {
      expect(
        originAllowed(req(headers as Record<string, string>), 'http', hosts),
        JSON.stringify(headers),
      ).toBe(false);
    }
    const tls = allowedHosts('192.168.1.20', 443, []);
    expect(originAllowed(req({ origin: 'https://192.168.1.20' }), 'https', tls)).toBe(true);
  });

  it('binds CSRF tokens to their secret and compares them whole', () => {
    const a = csrfToken('session-a', 'session');
    expect(a).toBe(csrfToken('session-a', 'session'));
    expect(a).not.toBe(csrfToken('session-b', 'session'));
    expect(a).not.toBe(csrfToken('session-a', 'login'));
    expect(sameSecret(a, a)).toBe(true);
    expect(sameSecret(a.slice(0, -1), a)).toBe(false);
    expect(sameSecret('', a)).toBe(false);
  });

  it('calls only loopback addresses loopback', () => {
    for (const listen of ['127.0.0.1:8470', '127.1.2.3:1', 'localhost:80', '[::1]:8470']) {
      expect(isLoopbackListen(listen), listen).toBe(true);
    }
    for (const listen of ['0.0.0.0:8470', '192.168.1.2:8470', '[::]:8470', 'doorbell.local:1']) {
      expect(isLoopbackListen(listen), listen).toBe(false);
    }
  });
});

describe('login rate limit', () => {
  it('locks an address out at the sixth try after five failures in a minute, longer each time', () => {
    const limiter = new LoginLimiter();
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) {
      expect(limiter.admit('a', t0 + i)).toEqual({ ok: true });
      limiter.fail('a', t0 + i);
    }
    expect(limiter.admit('b', t0 + 10)).toEqual({ ok: true });
    expect(limiter.admit('a', t0 + 10)).toEqual({ ok: false, retryAfterMs: 60_000 });
    expect(limiter.admit('a', t0 + 30_000).ok).toBe(false);
    const after = t0 + 10 + 60_000;
    expect(limiter.admit('a', after)).toEqual({ ok: true });
    for (let i = 0; i < 5; i++) limiter.fail('a', after + i);
    expect(limiter.admit('a', after + 10)).toEqual({ ok: false, retryAfterMs: 120_000 });
    // Failures spread over more than a minute do not lock.
    const slow = new LoginLimiter();
    for (let i = 0; i < 10; i++) {
      expect(slow.admit('c', t0 + i * 15_000).ok).toBe(true);
      slow.fail('c', t0 + i * 15_000);
    }
  });

  it('forgets an address after a success, and stays bounded in size', () => {
    const limiter = new LoginLimiter({
      maxFailures: 1,
      windowMs: 60_000,
      baseLockMs: 1000,
      maxLockMs: 4000,
      maxAddresses: 3,
    });
    limiter.fail('a', 0);
    limiter.succeed('a');
    expect(limiter.admit('a', 1)).toEqual({ ok: true });
    for (const address of ['b', 'c', 'd', 'e']) limiter.fail(address, 0);
    expect(limiter.admit('b', 1)).toEqual({ ok: true }); // dropped, the oldest
    expect(limiter.admit('e', 1).ok).toBe(false);
  });
});

describe('pairing codes as typed', () => {
  it('ignores case, spaces and dashes, reads look-alikes, refuses anything else', () => {
    expect(normalizeCode('7k2qm-x9d4p')).toBe('7K2QMX9D4P');
    expect(normalizeCode(' 7K2QM X9D4P ')).toBe('7K2QMX9D4P');
    expect(normalizeCode('OIL23-45678')).toBe('01123' + '45678');
    for (const bad of ['', '7K2QM', '7K2QM-X9D4PP', '7K2QM-X9D4U', '7K2QM_X9D4P', '７K2QM-X9D4P']) {
      expect(normalizeCode(bad), bad).toBeUndefined();
    }
  });
});

describe('escaping and forms', () => {
  it('escapes every interpolated value unless it is our own markup', () => {
    const title = '<img src=x onerror=alert(1)> & "quotes" \'too\'';
    expect(html`<h1 title="${title}">${title}</h1>`.value).toBe(
      '<h1 title="&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot; &#39;too&#39;">&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot; &#39;too&#39;</h1>',
    );
    expect(html`<p>${[raw('<b>'), 'x<y', null, false, 3]}</p>`.value).toBe('<p><b>x&lt;y3</p>');
  });

  it('parses the share form: clips, narrowed seconds, audio off unless on', () => {
    expect(
      shareForm.parse({ csrf: 't', clip: ['0', '2'], from_0: '1.5', to_0: '', from_2: '0' }),
    ).toEqual({
      clips: [
        { index: 0, from: 1.5 },
        { index: 2, from: 0 },
      ],
      audio: false,
      mode: 'fast',
    });
    expect(shareForm.parse({ csrf: 't', clip: '1', audio: 'on', mode: 'exact' })).toMatchObject({
      audio: true,
      mode: 'exact',
    });
    for (const bad of [
      { csrf: 't', clip: '-1' },
      { csrf: 't', clip: '0', from_0: '-2' },
      { csrf: 't', clip: '0', from_0: '1e3' },
      { csrf: 't', clip: '0', audio: 'yes' },
      { csrf: 't', clip: '0', mode: 'slow' },
      { csrf: 't', clip: '0', other: '1' },
      { clip: '0' },
    ]) {
      expect(shareForm.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('byte ranges', () => {
  it('reads one range of RFC 9110 §14.1.2, and refuses the rest', () => {
    expect(parseRange(undefined, 1000)).toBeUndefined();
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    for (const bad of [
      'bytes=1000-',
      'bytes=5-1',
      'bytes=-0',
      'bytes=-',
      'bytes=0-1,5-6',
      'items=0-1',
    ]) {
      expect(() => parseRange(bad, 1000), bad).toThrow(/not in the file/);
    }
  });
});
