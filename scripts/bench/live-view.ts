/**
 * Live view (DESIGN.md, "Live view"; figures reported). The agent runs as a process
 * (`threshold run`, recording a 1080p emulated camera); Chromium opens its live page.
 *
 * 1. Time to first frame: from opening the live page to a decoded frame with the
 *    video's time advancing, cold (nothing running: the media server and ffmpeg start
 *    for it), `--runs` times (default 10), waiting for live view to stop in between.
 *    Floor in the same run: ffmpeg itself decoding the first frame straight from the
 *    camera (RTSP connect, the first keyframe), as many times.
 * 2. The agent's RSS and CPU over `--seconds` (default 30) with no one watching (the
 *    floor), then as long with one viewer; and the media server's and the publishing
 *    ffmpeg's own, which live view adds beside the agent.
 *
 *   npx tsx scripts/bench/live-view.ts [--runs 10] [--seconds 30]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../../agent/ui/test-support/browser.js';
import { startEmulatedCameras } from '../camera/emulated-camera.js';
import { childPids, commName, cpuSeconds, median, rssBytes } from './proc-stats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number) => Math.round(n * 10) / 10;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const summary = (ms: readonly number[]) => ({
  p50: round(percentile(ms, 50)),
  p90: round(percentile(ms, 90)),
  min: round(Math.min(...ms)),
  max: round(Math.max(...ms)),
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** CPU (% of one core) and RSS of some processes over `seconds`. */
async function sample(pids: () => Promise<number[]>, seconds: number) {
  const first = await pids();
  const cpu0 = await Promise.all(first.map((pid) => cpuSeconds(pid).catch(() => 0)));
  const t0 = performance.now();
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const now = await pids();
    rss.push(
      (await Promise.all(now.map((pid) => rssBytes(pid).catch(() => 0)))).reduce(
        (a, b) => a + b,
        0,
      ),
    );
  }
  const cpu1 = await Promise.all(first.map((pid) => cpuSeconds(pid).catch(() => 0)));
  const cpu = cpu1.reduce((a, b) => a + b, 0) - cpu0.reduce((a, b) => a + b, 0);
  const wall = (performance.now() - t0) / 1000;
  return {
    cpuPercentOfCore: round((cpu / wall) * 100),
    rssMedianMB: round(median(rss) / 1e6),
  };
}

/**
 * ffmpeg decoding the camera's first frame, probing skipped as live view does: the RTSP
 * connection and the wait for a keyframe, the floor of any live view.
 */
function ffmpegFirstFrameMs(url: string): number {
  const t0 = performance.now();
  // biome-ignore format: flag pairs read best one per line
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp',
    '-analyzeduration', '0', '-probesize', '32', '-i', url,
    '-map', '0:v:0', '-frames:v', '1', '-f', 'null', '-',
  ]);
  return performance.now() - t0;
}

async function firstFrame(page: Page, base: string): Promise<number> {
  const t0 = performance.now();
  await page.goto(`${base}/live`);
  const deadline = t0 + 30_000;
  let seen = -1;
  for (;;) {
    const now = await page.locator('#live-video').evaluate((element) => {
      const video = element as unknown as {
        currentTime: number;
        getVideoPlaybackQuality(): { totalVideoFrames: number };
      };
      return { time: video.currentTime, frames: video.getVideoPlaybackQuality().totalVideoFrames };
    });
    if (now.frames > 0 && now.time > 0 && seen >= 0 && now.time > seen) {
      return performance.now() - t0;
    }
    if (now.frames > 0 && now.time > 0 && seen < 0) seen = now.time;
    if (performance.now() > deadline) throw new Error('live view did not play within 30 s');
    await sleep(20);
  }
}

async function liveState(page: Page, base: string): Promise<string> {
  const response = await page.request.get(`${base}/live/status`);
  return ((await response.json()) as { state: string }).state;
}

async function main() {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const dir = await mkdtemp(join(tmpdir(), 'bench-live-'));
  const camera = await startEmulatedCameras({
    cameras: 1,
    size: { width: 1920, height: 1080 },
    fps: 15,
    keyframeSeconds: 2,
  });
  const url = camera.urls[0] as string;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.3702, lon: 4.8952 } },
      camera: { source: 'rtsp', url },
      retention: { minFreeBytes: 0 },
      ui: { listen: `127.0.0.1:${port}` },
      live: { idleStopSeconds: 1 },
      log: { level: 'warn' },
    }),
    { mode: 0o600 },
  );
  const entry = join(ROOT, 'dist/agent/cli/entry.js');
  const agent = spawn(process.execPath, [entry, 'run', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = agent.pid ?? 0;
  const browser = await launchBrowser();
  try {
    const floor = Array.from({ length: RUNS }, () => ffmpegFirstFrameMs(url));
    await sleep(6000);
    const paired = JSON.parse(
      execFileSync(process.execPath, [entry, 'pair', '--config', configPath, '--json'], {
        encoding: 'utf8',
      }),
    ) as { code: string };
    const page = await (await browser.context('desktop')).newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel('Pairing code').fill(paired.code);
    await page.getByRole('button', { name: 'Pair' }).click();
    await page.waitForURL(`${base}/`);

    const cold: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      cold.push(await firstFrame(page, base));
      await page.goto(`${base}/history`);
      const deadline = Date.now() + 20_000;
      while ((await liveState(page, base)) !== 'idle') {
        if (Date.now() > deadline) throw new Error('live view did not stop');
        await sleep(100);
      }
    }

    // The agent alone (recording, no one watching), then with one viewer.
    const agentOnly = async () => [pid];
    const idle = await sample(agentOnly, SECONDS);
    await firstFrame(page, base);
    await sleep(2000);
    const children = await childPids(pid);
    const names = await Promise.all(children.map(async (c) => [c, await commName(c)] as const));
    // The recorder's ffmpeg is there in both runs; live view adds a node and an ffmpeg.
    const live = await Promise.all(
      names.map(async ([c, name]) => {
        const args = execFileSync('cat', [`/proc/${c}/cmdline`], { encoding: 'utf8' });
        return {
          pid: c,
          name,
          live: args.includes('media-server-child') || args.includes('rtmp://'),
        };
      }),
    );
    const mediaServer = live.find((p) => p.live && p.name !== 'ffmpeg')?.pid;
    const publisher = live.find((p) => p.live && p.name === 'ffmpeg')?.pid;
    const [watching, server, ffmpeg] = await Promise.all([
      sample(agentOnly, SECONDS),
      mediaServer ? sample(async () => [mediaServer], SECONDS) : undefined,
      publisher ? sample(async () => [publisher], SECONDS) : undefined,
    ]);
    const stillPlaying = await page.locator('#live-state').textContent();

    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'live-view',
          camera: '1920x1080 15 fps, keyframe every 2 s, recorded by ffmpeg (not counted)',
          timeToFirstFrameMs: {
            runs: RUNS,
            cold: summary(cold),
            floorFfmpegFirstFrame: summary(floor),
            ratioP50: round(percentile(cold, 50) / percentile(floor, 50)),
          },
          agent: {
            seconds: SECONDS,
            noViewer: idle,
            oneViewer: watching,
            cpuDeltaPoints: round(watching.cpuPercentOfCore - idle.cpuPercentOfCore),
            rssDeltaMB: round(watching.rssMedianMB - idle.rssMedianMB),
          },
          beside: { mediaServer: server, publisherFfmpeg: ffmpeg },
          pageStateAtEnd: stillPlaying,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await browser.close();
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    await camera.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
