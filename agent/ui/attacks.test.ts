import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientState } from '../mqtt/client-state.js';
import { waitFor } from '../test-support/poll.js';
import { PageClient, type RawResponse } from './test-support/http-client.js';
import { createPageWorld, type PageWorld } from './test-support/page-world.js';

/**
 * Attacks on the owner's page, each refused with nothing changed: the same database
 * rows, the same audit log, nothing published by the device. A real agent, broker and
 * camera; requests made with raw HTTP so that every header is the attacker's to choose.
 */

let world: PageWorld;
let owner: PageClient;
let csrf: string;
/** One motion clip in its window. */
let narrowId: string;
/** Two motion clips in its window. */
let wideId: string;

async function snapshot() {
  const { db } = world.agent;
  const rows = async (sql: string) => JSON.stringify(await db.all(sql));
  const clientId = (await loadClientState(world.config.dataDir)).clientId;
  return {
    requests: await rows('SELECT id, state, decided_at FROM requests ORDER BY id'),
    approvals: await rows('SELECT * FROM approvals'),
    jobs: await rows('SELECT * FROM share_jobs'),
    policy: await rows('SELECT * FROM owner_policy'),
    sessions: await rows('SELECT id FROM ui_sessions ORDER BY id'),
    audit: await rows('SELECT seq, kind FROM audit_log ORDER BY seq'),
    pins: await rows('SELECT * FROM pins ORDER BY 1, 2'),
    devicePublishes: world.broker.publishes().filter((p) => p.clientId === clientId).length,
  };
}

/** The attack is refused with `status` and nothing changed. */
async function refused(attack: () => Promise<RawResponse>, status: number): Promise<RawResponse> {
  const before = await snapshot();
  const res = await attack();
  expect(res.status).toBe(status);
  expect(await snapshot()).toEqual(before);
  return res;
}

beforeAll(async () => {
  world = await createPageWorld({ footageSeconds: 22 });
  owner = new PageClient(world.url);
  const paired = await owner.pair(await world.pairingCode());
  expect(paired.status).toBe(303);
  csrf = PageClient.csrfOf((await owner.get('/')).body);
  const motion = await waitFor(
    async () => {
      const rows = await world.agent.db.all<{ start_ms: number; end_ms: number }>(
        'SELECT start_ms, end_ms FROM motion_events WHERE end_ms IS NOT NULL ORDER BY start_ms',
      );
      return rows.length >= 2 ? rows : undefined;
    },
    { timeoutMs: 30_000, what: 'two motion events' },
  );
  const [first, second] = motion;
  if (!first || !second) throw new Error('unreachable');
  // A window around the first motion only, and one around both.
  narrowId = await world.publish({
    title: 'One clip',
    from: first.start_ms - 1500,
    to: Math.floor((first.end_ms + second.start_ms) / 2),
  });
  wideId = await world.publish({ title: 'Two clips', from: first.start_ms - 1500 });
}, 180_000);

afterAll(async () => {
  await world?.close();
});

describe('the owner page refuses attacks and changes nothing', () => {
  it('checks that the snapshot is not vacuous: a real decline changes it', async () => {
    const extra = await world.publish({ title: 'To decline' });
    const before = await snapshot();
    const res = await owner.post(`/requests/${extra}/decline`, { csrf });
    expect(res.status).toBe(303);
    const after = await snapshot();
    expect(after.requests).not.toEqual(before.requests);
    expect(after.audit).not.toEqual(before.audit);
    expect(after.devicePublishes).toBe(0);
  });

  it('offers one clip for the narrow request and two for the wide one', async () => {
    expect(await world.agent.consent.offers(narrowId)).toHaveLength(1);
    expect(await world.agent.consent.offers(wideId)).toHaveLength(2);
  });

  it('a POST without a CSRF token', async () => {
    await refused(() => owner.post(`/requests/${narrowId}/decline`, {}), 403);
  });

  it('a POST with a wrong CSRF token, or the login form’s', async () => {
    await refused(() => owner.post(`/requests/${narrowId}/decline`, { csrf: `${csrf}x` }), 403);
    await refused(
      () => owner.post(`/requests/${narrowId}/decline`, { csrf: 'A'.repeat(csrf.length) }),
      403,
    );
  });

  it('a foreign Origin, a missing one, or a cross-site fetch', async () => {
    const decline = (headers: Record<string, string>) =>
      owner.post(`/requests/${narrowId}/decline`, { csrf }, { headers });
    await refused(() => decline({ Origin: 'http://evil.example' }), 403);
    await refused(() => decline({ Origin: 'null' }), 403);
    await refused(() => decline({ Origin: `http://127.0.0.1:${new URL(world.url).port}0` }), 403);
    await refused(() => decline({ 'Sec-Fetch-Site': 'same-site' }), 403);
    await refused(
      () =>
        owner.send({
          method: 'POST',
          path: `/requests/${narrowId}/decline`,
          body: `csrf=${encodeURIComponent(csrf)}`,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        }),
      403,
    );
  });

  it('a foreign Host (DNS rebinding) gets 421, for reads and writes', async () => {
    const port = new URL(world.url).port;
    const read = await refused(() => owner.get('/', { Host: `evil.example:${port}` }), 421);
    expect(read.body).not.toContain('One clip');
    await refused(
      () =>
        owner.post(
          `/requests/${narrowId}/decline`,
          { csrf },
          { headers: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` } },
        ),
      421,
    );
    await refused(() => owner.get('/', { Host: 'localhost:1' }), 421);
    // The allowed names do work.
    expect((await owner.get('/', { Host: `localhost:${port}` })).status).toBe(200);
  });

  it('no session: writes get 401, pages send to the login page, media and events 401', async () => {
    await refused(() => owner.post(`/requests/${narrowId}/decline`, { csrf }, { jar: false }), 401);
    const page = await owner.send({ path: `/requests/${narrowId}`, jar: false });
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/login');
    for (const path of [
      `/requests/${narrowId}/clips/0/preview.mp4`,
      '/events',
      '/fragments/pending',
    ]) {
      expect((await owner.send({ path, jar: false })).status).toBe(401);
    }
    await refused(
      () =>
        owner.send({
          path: '/',
          jar: false,
          headers: { Cookie: 'threshold_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
        }),
      303,
    );
  });

  it("another request's clip index", async () => {
    const res = await refused(
      () => owner.post(`/requests/${narrowId}/review`, { csrf, clip: '1' }),
      400,
    );
    expect(res.body).toContain('not offered');
    await refused(() => owner.post(`/requests/${narrowId}/share`, { csrf, clip: '1' }), 400);
    expect((await owner.get(`/requests/${narrowId}/clips/1/preview.mp4`)).status).toBe(400);
  });

  it('ranges outside the clip or the window, negative or empty', async () => {
    const share = (form: Record<string, string>) => () =>
      owner.post(`/requests/${narrowId}/share`, { csrf, clip: '0', ...form });
    expect((await refused(share({ to_0: '99999' }), 400)).body).toContain('outside');
    await refused(share({ from_0: '-5' }), 400);
    await refused(share({ from_0: '3', to_0: '1' }), 400);
    await refused(share({ from_0: '1e3' }), 400);
    await refused(share({ to_0: 'NaN' }), 400);
    // Nothing ticked sends nothing (the consent service would read it as every clip).
    await refused(() => owner.post(`/requests/${narrowId}/share`, { csrf, from_0: '1' }), 400);
    await refused(() => owner.post(`/requests/${narrowId}/review`, { csrf }), 400);
  });

  it('path traversal in a request id, a clip or a file name', async () => {
    for (const path of [
      `/requests/${narrowId}/clips/..%2F..%2F..%2Fthreshold.db/preview.mp4`,
      `/requests/..%2F..%2Fthreshold.db/clips/0/preview.mp4`,
      `/requests/${narrowId}/clips/0%2F..%2F1/thumbnail.jpg`,
      '/static/..%2F..%2Fowner-page.ts',
      '/static/%2e%2e%2fpairing.ts',
    ]) {
      const res = await refused(() => owner.get(path), 400);
      expect(res.body).not.toContain('SQLite');
    }
    // Unnormalised dot segments do not reach a file either.
    expect([400, 404]).toContain((await owner.get('/static/../../../etc/passwd')).status);
    expect([400, 404]).toContain((await owner.get('/requests/../../etc/passwd')).status);
  });

  it('an oversized body, a wrong content type, unknown fields, a bad query', async () => {
    const big = { csrf, clip: '0', note: 'x'.repeat(20_000) };
    const res = await refused(() => owner.post(`/requests/${narrowId}/share`, big), 413);
    expect(res.body).toContain('too large');
    await refused(
      () =>
        owner.send({
          method: 'POST',
          path: `/requests/${narrowId}/decline`,
          body: JSON.stringify({ csrf }),
          headers: { 'Content-Type': 'application/json', Origin: world.url },
        }),
      415,
    );
    await refused(() => owner.post(`/requests/${narrowId}/decline`, { csrf, extra: '1' }), 400);
    await refused(() => owner.post('/policy', { csrf, maxRadiusM: 'abc' }), 400);
    await refused(
      () =>
        owner.post('/policy', {
          csrf,
          maxRadiusM: '60000',
          maxWindowHours: '1',
          maxPromptsPerAgencyPerWeek: '1',
        }),
      400,
    );
    await refused(() => owner.post('/policy/block', { csrf, agencyId: '../x' }), 400);
    await refused(() => owner.get('/audit?before=-1'), 400);
    await refused(() => owner.get('/?x=1'), 400);
  });

  it('every answer carries the CSP and the usual security headers', async () => {
    for (const path of ['/', '/login', '/static/app.js', `/requests/${narrowId}`, '/nope']) {
      const res = await owner.get(path);
      expect(res.headers['content-security-policy']).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      );
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('same-origin');
    }
    const page = await owner.get(`/requests/${narrowId}`);
    expect(page.body).not.toMatch(/<script>|<script [^>]*>[^<]|\son[a-z]+=|style="/);
  });

  it('serves previews with byte ranges, and refuses an unsatisfiable range', async () => {
    const whole = await owner.get(`/requests/${narrowId}/clips/0/preview.mp4`);
    expect(whole.status).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    const size = Number(whole.headers['content-length']);
    expect(size).toBeGreaterThan(1000);
    const part = await owner.get(`/requests/${narrowId}/clips/0/preview.mp4`, {
      Range: 'bytes=100-199',
    });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${size}`);
    expect(part.headers['content-length']).toBe('100');
    const tail = await owner.get(`/requests/${narrowId}/clips/0/preview.mp4`, {
      Range: 'bytes=-10',
    });
    expect(tail.headers['content-range']).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    const beyond = await owner.get(`/requests/${narrowId}/clips/0/preview.mp4`, {
      Range: `bytes=${size}-`,
    });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${size}`);
  });
});
