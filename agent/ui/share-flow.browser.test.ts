import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientState } from '../mqtt/client-state.js';
import { type CliResult, ROOT, runCli } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { indexedSegments } from '../test-support/recording.js';
import { runTs } from '../test-support/request-world.js';
import { createShareWorld, LOCATION, type ShareWorld } from '../test-support/share-world.js';
import {
  axeViolations,
  launchBrowser,
  type TestBrowser,
  VIEWPORTS,
} from './test-support/browser.js';

/**
 * The owner's whole answer in Chromium, with every real part: the agent as a process
 * (recording an emulated camera with sound, its page on a free loopback port), Mosquitto,
 * `threshold pair`, `threshold-agency request --publish`, and `threshold-agency receive`
 * over HTTPS verifying what arrives. The screenshots in docs/ are taken here.
 */

const iso = (ms: number) => new Date(ms).toISOString();
const DOCS = join(ROOT, 'docs');

let world: ShareWorld;
let browser: TestBrowser;
let page: Page;
let pageUrl: string;
let agentLog: () => string;

const cli = (...args: string[]): Promise<CliResult> =>
  runCli([...args.slice(0, 1), '--config', world.configPath, ...args.slice(1)], 120_000);

async function publish(window: { start: number; end: number }, title: string, uploadUrl: string) {
  // biome-ignore format: flag pairs read best one per line
  const run = await runTs('scripts/agency/entry.ts', [
    'request', '--agency', world.agencyDir, '--delegation', join(world.dir, 'delegation.json'),
    '--lat', String(LOCATION.lat), '--lon', String(LOCATION.lon), '--radius-m', '250',
    '--from', iso(window.start), '--to', iso(window.end),
    '--code', 'MP-2026-0117', '--title', title,
    '--description', 'A parcel was taken from the doorstep. Footage of the pavement, please.',
    '--upload-url', uploadUrl, '--contact-name', 'Det. de Vries', '--contact-email', 'tips@police.example',
    '--expires-in', '6h', '--publish', world.broker.url, '--json',
  ]);
  if (run.code !== 0) throw new Error(`threshold-agency request failed: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { id: string }).id;
}

beforeAll(async () => {
  await mkdir(DOCS, { recursive: true });
  world = await createShareWorld({
    camera: { width: 1280, height: 720, audio: true },
    config: { ui: { listen: '127.0.0.1:0' }, log: { level: 'warn' } },
  });
  agentLog = world.startAgent().log;
  await waitFor(async () => (await indexedSegments(world.dataDir).catch(() => [])).length >= 9, {
    timeoutMs: 90_000,
    what: '18 s of footage',
  });
  pageUrl = await waitFor(
    async () => {
      const status = JSON.parse((await cli('status', '--json')).stdout) as {
        page: { state: string; url: string | null } | null;
      };
      return status.page?.state === 'listening' ? (status.page.url ?? undefined) : undefined;
    },
    { timeoutMs: 30_000, what: 'the page to listen' },
  );
  browser = await launchBrowser();
  page = await (
    await browser.browser.newContext({
      viewport: VIEWPORTS.phone,
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 1,
      locale: 'en-GB',
      timezoneId: 'Europe/Amsterdam',
    })
  ).newPage();
  const paired = await cli('pair', '--json');
  expect(paired.code).toBe(0);
  const { code } = JSON.parse(paired.stdout) as { code: string };
  await page.goto(`${pageUrl}/login`);
  await page.getByLabel('Pairing code').fill(code);
  await page.getByRole('button', { name: 'Pair' }).click();
  await page.waitForURL(`${pageUrl}/`);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await world?.close();
});

describe('the owner answers in the browser', () => {
  let sharedId: string;

  it('a request arrives live; the owner previews, narrows, turns sound off and shares; the agency verifies it', async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 7;
    });
    const segments = await indexedSegments(world.dataDir);
    const window = {
      start: (segments[1]?.startMs ?? 0) + 500,
      end: (segments.at(-1)?.endMs ?? 0) - 500,
    };
    sharedId = await publish(window, 'Parcel taken from a doorstep', world.receiver.endpoint);
    const card = page.locator(`[data-request="${sharedId}"]`);
    await card.waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(
      7,
    );

    await card.getByRole('link', { name: /Review footage/ }).click();
    await page.waitForURL(`${pageUrl}/requests/${sharedId}`);
    const video = page.locator('#preview-0');
    // The poster is the thumbnail made on the device.
    const thumbnail = await page.request.get(
      `${pageUrl}/requests/${sharedId}/clips/0/thumbnail.jpg`,
    );
    expect(thumbnail.status(), agentLog().slice(-3000)).toBe(200);
    expect((await thumbnail.body()).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    await waitFor(
      () => video.evaluate((e) => (e as unknown as { readyState: number }).readyState >= 0),
      { what: 'the video element' },
    );
    await page.screenshot({ path: join(DOCS, 'owner-page-request.png'), fullPage: true });
    await video.evaluate((element) => (element as unknown as { play(): Promise<void> }).play());
    await waitFor(
      async () =>
        (await video.evaluate((e) => (e as unknown as { currentTime: number }).currentTime)) > 1,
      { timeoutMs: 30_000, what: "the preview's time to advance" },
    );
    await video.evaluate((e) => (e as unknown as { pause(): void }).pause());

    const offers = JSON.parse((await cli('clips', sharedId, '--json')).stdout) as {
      start: string;
      end: string;
    }[];
    const clipStart = Date.parse(offers[0]?.start ?? '');
    await page.locator('#clip-0').check();
    await page.locator('#from-0').fill('2');
    await page.locator('#to-0').fill('8');
    const sound = page.getByLabel(/Include sound/);
    expect(await sound.isChecked()).toBe(false);
    await sound.check();
    await sound.uncheck();
    await page.getByRole('button', { name: 'Share…' }).click();
    await page.waitForLoadState('domcontentloaded');
    const confirm = (await page.locator('main').textContent()) ?? '';
    expect(confirm).toContain('Share with Metropolitan Police?');
    expect(confirm).toContain('1 clip, 6 s of video without sound');
    expect(confirm).toContain(new URL(world.receiver.endpoint).host);
    expect(confirm).toContain('MP-2026-0117');
    await page.screenshot({ path: join(DOCS, 'owner-page-confirm.png'), fullPage: true });

    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 8;
    });
    await page.getByRole('button', { name: 'Share now' }).click();
    await page.waitForURL(new RegExp(`/history#h-${sharedId}$`));
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 9;
    });
    const percent = page.locator('[data-job-percent]').first();
    await waitFor(async () => (await percent.textContent()) === '100 %', {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'the upload to reach 100 %',
    });
    // Reached by live updates: the history page was not reloaded.
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(
      9,
    );
    expect(await page.locator('[data-job-words]').first().textContent()).toContain('Delivered');
    expect(await page.locator(`[data-history="${sharedId}"]`).getAttribute('data-state')).toBe(
      'shared',
    );
    await page.screenshot({ path: join(DOCS, 'owner-page-history.png'), fullPage: true });

    const delivered = await waitFor(
      () =>
        world.receiver.events.find(
          (event) => event.event === 'clip' && event.requestId === sharedId,
        ),
      { timeoutMs: 30_000, what: "the receiver's verified clip" },
    );
    expect(delivered.custody).toMatchObject({
      start: iso(clipStart + 2000),
      end: iso(clipStart + 8000),
      audio: false,
    });
    const probe = await promisify(execFile)('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_type',
      '-of',
      'csv=p=0',
      String(delivered.path),
    ]);
    expect(probe.stdout.trim().split('\n')).toEqual(['video']);
  }, 300_000);

  it('declining another request sends nothing: not at the broker, not at the receiver', async () => {
    let connections = 0;
    const trap: Server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    try {
      const port = (trap.address() as { port: number }).port;
      const segments = await indexedSegments(world.dataDir);
      const window = {
        start: (segments[2]?.startMs ?? 0) + 100,
        end: (segments[6]?.endMs ?? 0) - 100,
      };
      const id = await publish(window, 'Scooter seen leaving', `https://127.0.0.1:${port}/files/`);
      await page.goto(`${pageUrl}/`);
      await page.locator(`[data-request="${id}"]`).waitFor({ timeout: 30_000 });
      const clientId = (await loadClientState(world.dataDir)).clientId;
      const devicePublishes = () =>
        world.broker.publishes().filter((entry) => entry.clientId === clientId).length;
      const receiverEvents = world.receiver.events.length;

      await page
        .locator(`[data-request="${id}"]`)
        .getByRole('link', { name: /Decline/ })
        .click();
      await page.waitForURL(`${pageUrl}/requests/${id}/decline`);
      expect(await page.locator('main').textContent()).toContain('Nothing is sent.');
      await page.getByRole('button', { name: 'Decline' }).click();
      await page.waitForURL(new RegExp(`/history#h-${id}$`));
      expect(await page.locator(`[data-history="${id}"]`).textContent()).toContain(
        'Declined: nothing was sent',
      );
      const listed = JSON.parse((await cli('requests', '--all', '--json')).stdout) as {
        id: string;
        state: string;
      }[];
      expect(listed.find((r) => r.id === id)?.state).toBe('declined');
      // The share pipeline looks for work every second: give it several.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(devicePublishes()).toBe(0);
      expect(connections).toBe(0);
      expect(world.receiver.events.length).toBe(receiverEvents);
      expect(world.receiver.events.some((event) => event.requestId === id)).toBe(false);
      const audit = JSON.parse((await cli('audit', '--json')).stdout) as {
        kind: string;
        requestId?: string;
      }[];
      expect(audit.filter((e) => e.requestId === id).map((e) => e.kind)).toEqual([
        'request_accepted',
        'request_declined',
      ]);
    } finally {
      await new Promise((resolve) => trap.close(resolve));
    }
  }, 120_000);

  it('the history with uploads has no serious accessibility violation', async () => {
    await page.goto(`${pageUrl}/history`);
    const serious = (await axeViolations(page)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect(serious).toEqual([]);
    const sizes = await Promise.all(
      ['request', 'confirm', 'history'].map(
        async (name) => (await readFile(join(DOCS, `owner-page-${name}.png`))).length,
      ),
    );
    for (const size of sizes) expect(size).toBeLessThan(400_000);
  }, 60_000);
});
