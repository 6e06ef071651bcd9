import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '../../agent/ui/test-support/browser.js';
import { startEmulatedCameras } from '../camera/emulated-camera.js';
import { cpuSeconds, median, rssBytes } from './proc-stats.js';

/**
 * The agent as a device runs it, for benchmarks: built, `threshold run` as a process
 * recording an emulated camera, its page on a free loopback port, and a browser paired
 * with a code from `threshold pair`.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'dist/agent/cli/entry.js');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export interface AgentProcess {
  pid: number;
  /** The page, http://127.0.0.1:PORT */
  base: string;
  /** The camera's RTSP address. */
  cameraUrl: string;
  /** A browser page logged in to the agent's page. */
  pair(browser: TestBrowser, kind?: 'phone' | 'desktop'): Promise<Page>;
  stop(): Promise<void>;
}

export async function startAgentProcess(options: {
  name: string;
  camera: { width: number; height: number; fps?: number; keyframeSeconds: number };
  config?: Record<string, unknown>;
}): Promise<AgentProcess> {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const dir = await mkdtemp(join(tmpdir(), `bench-${options.name}-`));
  const camera = await startEmulatedCameras({
    cameras: 1,
    size: { width: options.camera.width, height: options.camera.height },
    ...(options.camera.fps ? { fps: options.camera.fps } : {}),
    keyframeSeconds: options.camera.keyframeSeconds,
  });
  const cameraUrl = camera.urls[0] as string;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.3702, lon: 4.8952 } },
      camera: { source: 'rtsp', url: cameraUrl },
      retention: { minFreeBytes: 0 },
      ui: { listen: `127.0.0.1:${port}` },
      log: { level: 'warn' },
      ...options.config,
    }),
    { mode: 0o600 },
  );
  const agent = spawn(process.execPath, [ENTRY, 'run', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    pid: agent.pid ?? 0,
    base,
    cameraUrl,
    pair: async (browser, kind = 'desktop') => {
      const paired = JSON.parse(
        execFileSync(process.execPath, [ENTRY, 'pair', '--config', configPath, '--json'], {
          encoding: 'utf8',
        }),
      ) as { code: string };
      const page = await (await browser.context(kind)).newPage();
      await page.goto(`${base}/login`);
      await page.getByLabel('Pairing code').fill(paired.code);
      await page.getByRole('button', { name: 'Pair' }).click();
      await page.waitForURL(`${base}/`);
      return page;
    },
    stop: async () => {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
      await camera.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** CPU (% of one core, summed) and RSS (summed, median) of processes over `seconds`. */
export async function sampleProcesses(pids: readonly number[], seconds: number) {
  const cpuOf = async () =>
    (await Promise.all(pids.map((pid) => cpuSeconds(pid).catch(() => 0)))).reduce(
      (a, b) => a + b,
      0,
    );
  const cpu0 = await cpuOf();
  const t0 = performance.now();
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const each = await Promise.all(pids.map((pid) => rssBytes(pid).catch(() => 0)));
    rss.push(each.reduce((a, b) => a + b, 0));
  }
  const cpu = (await cpuOf()) - cpu0;
  const wall = (performance.now() - t0) / 1000;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    cpuPercentOfCore: round((cpu / wall) * 100),
    rssMedianMB: round(median(rss) / 1e6),
    rssMaxMB: round(Math.max(...rss) / 1e6),
  };
}
