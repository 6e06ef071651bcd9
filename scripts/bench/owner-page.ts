/**
 * The owner's page with 200 pending requests (DESIGN.md, "Measured targets": figures
 * reported). Two parts:
 *
 * 1. The request list, served in process: time to first byte and full response over raw
 *    HTTP (`--runs`, default 100), and in Chromium the navigation's TTFB and full load
 *    (load event, the stylesheet and script included; `--browser-runs`, default 20).
 *    Floors in the same run: the static stylesheet over HTTP (same server and headers, no
 *    database), and the login page in the browser (same layout, no requests).
 * 2. The agent as a process (`threshold run`, recording a 720p emulated camera): its RSS
 *    and CPU over `--idle-seconds` (default 30) without a page, then as long with the
 *    page open and idle (its event stream connected). The first is the floor.
 *
 *   npx tsx scripts/bench/owner-page.ts [--runs 100] [--browser-runs 20] [--idle-seconds 30]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../agent/config/load.js';
import { AgentEvents } from '../../agent/events.js';
import { createLogger } from '../../agent/log.js';
import { openDeviceParts } from '../../agent/parts.js';
import { PolicySource } from '../../agent/requests/policy-source.js';
import { createOwnerPage } from '../../agent/ui/create.js';
import { formatCode, PairingCodes } from '../../agent/ui/pairing.js';
import { launchBrowser } from '../../agent/ui/test-support/browser.js';
import { PageClient } from '../../agent/ui/test-support/http-client.js';
import { percentile, sampleProcesses, sleep, startAgentProcess } from './agent-process.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    'browser-runs': { type: 'string', default: '20' },
    'idle-seconds': { type: 'string', default: '30' },
    pending: { type: 'string', default: '200' },
  },
});
const RUNS = Number(values.runs);
const BROWSER_RUNS = Number(values['browser-runs']);
const IDLE_S = Number(values['idle-seconds']);
const PENDING = Number(values.pending);
const LOCATION = { lat: 52.3702, lon: 4.8952 };
const log = createLogger({ level: 'silent' });

const summary = (ms: readonly number[]) => ({
  p50: round(percentile(ms, 50)),
  p99: round(percentile(ms, 99)),
});
const round = (x: number) => Math.round(x * 100) / 100;

/** Time to the response's first byte and to its end, ms. */
function timedGet(base: string, path: string, cookie: string) {
  return new Promise<{ ttfb: number; total: number; bytes: number }>((done, fail) => {
    const url = new URL(path, base);
    const start = performance.now();
    const req = request(url, { headers: { Cookie: cookie } }, (res) => {
      const ttfb = performance.now() - start;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) fail(new Error(`${path}: ${res.statusCode}`));
        else done({ ttfb, total: performance.now() - start, bytes });
      });
    });
    req.on('error', fail);
    req.end();
  });
}

async function servedList() {
  const dir = await mkdtemp(join(tmpdir(), 'bench-owner-page-'));
  await mkdir(join(dir, 'data'));
  const config = parseConfig(
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: LOCATION },
      camera: { source: 'emulated' },
      ui: { listen: '127.0.0.1:0' },
    }),
    dir,
  );
  const parts = await openDeviceParts(config, { log });
  const policy = new PolicySource({
    db: parts.db,
    audit: parts.audit,
    clock: parts.floor,
    file: config.policy,
  });
  const page = createOwnerPage({
    config,
    parts,
    consent: parts.consent,
    policy,
    events: new AgentEvents(),
    log,
  });
  const stopping = new AbortController();
  try {
    const now = Date.now();
    for (let i = 0; i < PENDING; i++) {
      const id = randomBytes(16).toString('base64url');
      await parts.requests.accept(
        {
          id,
          state: 'pending',
          agencyId: `agency-${i % 7}`,
          agencyName: `Police district ${i % 7}`,
          signingKey: randomBytes(32).toString('base64'),
          rootNames: ['State Root', 'Civic Root'],
          investigationCode: `CASE-2026/${1000 + i}`,
          title: `Request ${i}: a car broken into on the high street`,
          description: 'Footage of the street between the times given, please. '.repeat(8),
          area: { lat: LOCATION.lat + 0.001, lon: LOCATION.lon, radiusM: 400 },
          window: { start: now - 3600_000, end: now - 600_000 },
          issuedAt: now - i * 1000,
          expiresAt: now + 48 * 3600_000,
          recipient: randomBytes(32).toString('base64'),
          uploadUrl: 'https://evidence.example/files/',
          contact: { name: 'Desk sergeant', phone: '+31 20 123 4567' },
          segmentIds: [],
          receivedAt: now - (PENDING - i) * 1000,
          payloadSha256: createHash('sha256').update(id).digest('hex'),
          envelope: Buffer.from('{}'),
        },
        { agencyId: `agency-${i % 7}` },
      );
    }
    await page.start(stopping.signal);
    const base = page.url ?? '';
    const client = new PageClient(base);
    const code = formatCode(
      (await new PairingCodes({ db: parts.db, audit: parts.audit }).issue(Date.now())).code,
    );
    if ((await client.pair(code)).status !== 303) throw new Error('pairing failed');
    const cookie = client.cookieHeader();

    // Warm up, then alternate list and floor so drift hits both alike.
    for (let i = 0; i < 5; i++) await timedGet(base, '/', cookie);
    const list: { ttfb: number; total: number; bytes: number }[] = [];
    const floor: { ttfb: number; total: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      list.push(await timedGet(base, '/', cookie));
      floor.push(await timedGet(base, '/static/app.css', cookie));
    }

    const browser = await launchBrowser();
    const context = await browser.context('desktop');
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: base }]);
    const tab = await context.newPage();
    const navigation = async (path: string) => {
      await tab.goto(`${base}${path}`, { waitUntil: 'load' });
      return tab.evaluate(() => {
        const [entry] = (
          globalThis as unknown as {
            performance: {
              getEntriesByType(t: string): {
                requestStart: number;
                responseStart: number;
                loadEventEnd: number;
              }[];
            };
          }
        ).performance.getEntriesByType('navigation');
        return {
          ttfb: (entry?.responseStart ?? 0) - (entry?.requestStart ?? 0),
          load: entry?.loadEventEnd ?? 0,
        };
      });
    };
    for (let i = 0; i < 3; i++) await navigation('/');
    const loads: { ttfb: number; load: number }[] = [];
    const loginLoads: { ttfb: number; load: number }[] = [];
    const cards = await tab.locator('[data-request]').count();
    if (cards !== PENDING) throw new Error(`the list shows ${cards} requests, not ${PENDING}`);
    const guest = await (await browser.context('desktop')).newPage();
    for (let i = 0; i < BROWSER_RUNS; i++) {
      loads.push(await navigation('/'));
      await guest.goto(`${base}/login`, { waitUntil: 'load' });
      loginLoads.push(
        await guest.evaluate(() => {
          const [entry] = (
            globalThis as unknown as {
              performance: {
                getEntriesByType(t: string): {
                  requestStart: number;
                  responseStart: number;
                  loadEventEnd: number;
                }[];
              };
            }
          ).performance.getEntriesByType('navigation');
          return {
            ttfb: (entry?.responseStart ?? 0) - (entry?.requestStart ?? 0),
            load: entry?.loadEventEnd ?? 0,
          };
        }),
      );
    }
    await browser.close();
    const listTtfb = summary(list.map((r) => r.ttfb));
    const floorTtfb = summary(floor.map((r) => r.ttfb));
    const browserLoad = summary(loads.map((r) => r.load));
    const loginLoad = summary(loginLoads.map((r) => r.load));
    return {
      pending: PENDING,
      htmlBytes: list[0]?.bytes ?? 0,
      http: {
        runs: RUNS,
        listTtfbMs: listTtfb,
        listTotalMs: summary(list.map((r) => r.total)),
        floorStaticTtfbMs: floorTtfb,
        ttfbRatioP50: round(listTtfb.p50 / floorTtfb.p50),
      },
      browser: {
        runs: BROWSER_RUNS,
        listTtfbMs: summary(loads.map((r) => r.ttfb)),
        listFullLoadMs: browserLoad,
        floorLoginFullLoadMs: loginLoad,
        loadRatioP50: round(browserLoad.p50 / loginLoad.p50),
      },
    };
  } finally {
    stopping.abort();
    await page.stop();
    await parts.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function idleAgent() {
  const agent = await startAgentProcess({
    name: 'owner-agent',
    camera: { width: 1280, height: 720, keyframeSeconds: 1 },
  });
  const browser = await launchBrowser();
  try {
    await sleep(8000);
    const withoutPage = await sampleProcesses([agent.pid], IDLE_S);
    await agent.pair(browser, 'phone');
    await sleep(2000);
    const withPage = await sampleProcesses([agent.pid], IDLE_S);
    return {
      seconds: IDLE_S,
      camera: '1280x720 25 fps, recorded by ffmpeg (not counted)',
      floorWithoutPage: withoutPage,
      withPageOpenIdle: withPage,
      cpuDeltaPoints: round(withPage.cpuPercentOfCore - withoutPage.cpuPercentOfCore),
      rssDeltaMB: round(withPage.rssMedianMB - withoutPage.rssMedianMB),
    };
  } finally {
    await browser.close();
    await agent.stop();
  }
}

async function main() {
  const list = await servedList();
  const agent = await idleAgent();
  process.stdout.write(`${JSON.stringify({ bench: 'owner-page', list, agent }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
