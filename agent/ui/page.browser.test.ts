import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../test-support/poll.js';
import { axeViolations, launchBrowser, type TestBrowser } from './test-support/browser.js';
import { AGENCY_ID, createPageWorld, type PageWorld } from './test-support/page-world.js';

/**
 * The owner's page in Debian's Chromium, against a real agent (recording an emulated
 * camera, subscribed to Mosquitto): pairing, live arrival of requests, previews, the
 * policy, revoking a session, accessibility on a phone and a desktop, and the login
 * lockout (last: it locks this address out).
 */

let world: PageWorld;
let browser: TestBrowser;
let owner: Page;
let phone: Page;
let requestId: string;
/** When the last wrong code of the first test was typed (the lockout test waits a minute). */
let lastWrongAt = 0;

async function pair(context: BrowserContext, code: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${world.url}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.getByLabel('Pairing code').fill(code);
  await page.getByRole('button', { name: 'Pair' }).click();
  await page.waitForLoadState('domcontentloaded');
  return page;
}

beforeAll(async () => {
  world = await createPageWorld({ footageSeconds: 12 });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await world?.close();
});

describe('the owner page in a browser', () => {
  it('pairs with a fresh code; the same code, an expired one or a wrong one do not', async () => {
    const code = await world.pairingCode();
    owner = await pair(await browser.context('desktop'), code);
    expect(await owner.getByRole('heading', { level: 1 }).textContent()).toBe('Requests');

    const refusedWith = async (attempt: string) => {
      const page = await pair(await browser.context(), attempt);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.getByRole('alert').textContent()).toContain('wrong, used or expired');
      await page.context().close();
    };
    await refusedWith(code);
    await refusedWith(await world.pairingCode(11 * 60_000));
    await refusedWith('ABCDE-FGHJK');
    lastWrongAt = Date.now();

    phone = await pair(await browser.context('phone'), await world.pairingCode());
    expect(new URL(phone.url()).pathname).toBe('/');
  }, 120_000);

  it('shows a published request without a reload, and the indicator stays on when it is opened', async () => {
    await owner.goto(`${world.url}/`);
    await owner.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 42;
    });
    expect(await owner.locator('[data-request]').count()).toBe(0);
    requestId = await world.publish({ title: 'Bicycle stolen by the door' });
    const card = owner.locator(`[data-request="${requestId}"]`);
    await card.waitFor({ timeout: 20_000 });
    // The same document: nothing reloaded it.
    expect(await owner.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(
      42,
    );
    const text = (await card.textContent()) ?? '';
    for (const fact of [
      'Bicycle stolen by the door',
      'Metropolitan Police',
      'Test Root',
      'CASE-2026/0042',
      'from this camera, radius 300 m',
      'left',
      'Sgt. Martin',
    ]) {
      expect(text).toContain(fact);
    }
    expect(await owner.locator('#pending-count').textContent()).toContain('1');

    await waitFor(() => world.indicator.current() === 'pending-request', {
      what: 'the indicator to show the request',
    });
    await owner.getByRole('link', { name: 'Bicycle stolen by the door' }).first().click();
    await owner.waitForLoadState('domcontentloaded');
    await owner.goto(`${world.url}/history`);
    // Opening the page decided nothing.
    expect(world.indicator.current()).toBe('pending-request');
    expect((await world.agent.requests.store.get(requestId))?.state).toBe('pending');
  }, 60_000);

  it('plays a preview made on the device', async () => {
    await owner.goto(`${world.url}/requests/${requestId}`);
    const video = owner.locator('video').first();
    await video.waitFor();
    await video.evaluate((element) => (element as unknown as { play(): Promise<void> }).play());
    await waitFor(
      async () =>
        (await video.evaluate(
          (element) => (element as unknown as { currentTime: number }).currentTime,
        )) > 0.5,
      { timeoutMs: 30_000, what: "the preview's time to advance" },
    );
    const poster = await owner.request.get(
      `${world.url}/requests/${requestId}/clips/0/thumbnail.jpg`,
    );
    expect(poster.headers()['content-type']).toBe('image/jpeg');
  }, 60_000);

  it('blocks the agency from a request card, kept in the database and the audit log', async () => {
    await owner.goto(`${world.url}/`);
    await owner.getByRole('button', { name: 'Block Metropolitan Police' }).first().click();
    await owner.waitForLoadState('domcontentloaded');
    expect(await owner.content()).toContain('You have blocked this agency');
    expect(world.agent.requests.policy.current().blockedAgencies).toContain(AGENCY_ID);
    const row = await world.agent.db.get<{ overrides: string }>(
      'SELECT overrides FROM owner_policy WHERE id = 1',
    );
    expect(JSON.parse(row?.overrides ?? '{}').blockedAgencies).toEqual([AGENCY_ID]);
    const audit = await world.agent.requests.audit.entries();
    expect(audit.at(-1)).toMatchObject({ kind: 'policy_changed' });

    const refused = await world.publish({ title: 'Blocked one', waitPending: false });
    await waitFor(
      async () =>
        (await world.agent.requests.audit.entries()).find(
          (entry) => entry.requestId === refused && entry.reason === 'agency_blocked',
        ),
      { timeoutMs: 20_000, what: 'the refusal' },
    );
    await owner.goto(`${world.url}/policy`);
    await owner.getByRole('button', { name: `Unblock ${AGENCY_ID}` }).click();
    await owner.waitForLoadState('domcontentloaded');
    expect(world.agent.requests.policy.current().blockedAgencies).toEqual([]);
  }, 60_000);

  it('turns all requests off (the device unsubscribes) and on again', async () => {
    await owner.goto(`${world.url}/policy`);
    await owner.getByRole('switch', { name: /Turn all requests off/ }).check();
    await owner.getByRole('button', { name: 'Save policy' }).click();
    await owner.waitForLoadState('domcontentloaded');
    expect(await owner.locator('p.ok[role="status"]').textContent()).toContain('Saved');
    expect(world.agent.requests.policy.current().requestsOff).toBe(true);
    await world.broker.waitForLog(/Received UNSUBSCRIBE from/, 20_000);
    const whileOff = await world.publish({ title: 'While off', waitPending: false });

    await owner.getByRole('switch', { name: /Turn all requests off/ }).uncheck();
    await owner.getByRole('button', { name: 'Save policy' }).click();
    await owner.waitForLoadState('domcontentloaded');
    await waitFor(() => world.agent.requests.connection()?.state === 'ready', {
      timeoutMs: 20_000,
      what: 'the device to subscribe again',
    });
    const afterOn = await world.publish({ title: 'After on' });
    // Messages arrive in order: one queued while off would have come first.
    expect(await world.agent.requests.store.get(whileOff)).toBeUndefined();
    expect(
      (await world.agent.requests.audit.entries()).some((entry) => entry.requestId === whileOff),
    ).toBe(false);
    expect((await world.agent.requests.store.get(afterOn))?.state).toBe('pending');
  }, 90_000);

  it('has no serious or critical accessibility violation, on a phone and a desktop', async () => {
    const decline = `/requests/${requestId}/decline`;
    const paths = [
      '/',
      `/requests/${requestId}`,
      decline,
      '/history',
      '/audit',
      '/policy',
      '/sessions',
    ];
    for (const page of [owner, phone]) {
      for (const path of paths) {
        await page.goto(`${world.url}${path}`);
        const serious = (await axeViolations(page)).filter(
          (v) => v.impact === 'serious' || v.impact === 'critical',
        );
        expect(serious, `${path} on ${page.viewportSize()?.width}px`).toEqual([]);
      }
      // The confirmation, reached as the owner would.
      await page.goto(`${world.url}/requests/${requestId}`);
      await page.locator('#clip-0').check();
      await page.getByRole('button', { name: 'Share…' }).click();
      await page.waitForLoadState('domcontentloaded');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Share with');
      const serious = (await axeViolations(page)).filter(
        (v) => v.impact === 'serious' || v.impact === 'critical',
      );
      expect(serious, 'confirmation').toEqual([]);
    }
    const login = await (await browser.context('phone')).newPage();
    await login.goto(`${world.url}/login`);
    expect(
      (await axeViolations(login)).filter((v) => v.impact === 'critical' || v.impact === 'serious'),
    ).toEqual([]);
    await login.context().close();
  }, 180_000);

  it('a revoked session is logged out, even with a page open', async () => {
    const other = await pair(await browser.context(), await world.pairingCode());
    expect(new URL(other.url()).pathname).toBe('/');
    const sessions = await world.agent.db.all<{ id: number }>(
      'SELECT id FROM ui_sessions ORDER BY id DESC LIMIT 1',
    );
    const newest = sessions[0]?.id;
    await owner.goto(`${world.url}/sessions`);
    await owner.getByRole('button', { name: new RegExp(`Remove .*\\(${newest}\\)`) }).click();
    await owner.waitForLoadState('domcontentloaded');
    // The open page notices by itself (its event stream ends) and goes to the login page.
    await other.waitForURL(/\/login$/, { timeout: 20_000 });
    await other.goto(`${world.url}/history`);
    expect(new URL(other.url()).pathname).toBe('/login');
    const audit = await world.agent.requests.audit.entries();
    expect(audit.at(-1)).toMatchObject({ kind: 'owner_session_ended', reason: 'revoked' });
  }, 60_000);

  it('locks an address out at the sixth wrong code in a minute, even for a right code', async () => {
    const context = await browser.context();
    const page = await context.newPage();
    await page.goto(`${world.url}/login`);
    // The first test's three wrong codes must have left the one-minute window.
    await waitFor(() => Date.now() - lastWrongAt > 61_000, {
      timeoutMs: 70_000,
      intervalMs: 500,
      what: 'a minute since the last wrong code',
    });
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Pairing code').fill(`WRONG-CODE${i}`);
      await page.getByRole('button', { name: 'Pair' }).click();
      await page.waitForLoadState('domcontentloaded');
      expect(await page.getByRole('alert').textContent()).toContain('wrong, used or expired');
    }
    const fresh = await world.pairingCode();
    await page.getByLabel('Pairing code').fill(fresh);
    await page.getByRole('button', { name: 'Pair' }).click();
    await page.waitForLoadState('domcontentloaded');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.getByRole('alert').textContent()).toContain('Too many wrong codes');
    // The right code was not used up by the refused attempt.
    const row = await world.agent.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM ui_pairing_codes WHERE used_at IS NULL AND expires_at > ?',
      [Date.now()],
    );
    expect(row?.n).toBeGreaterThanOrEqual(1);
    await context.close();
  }, 150_000);
});
