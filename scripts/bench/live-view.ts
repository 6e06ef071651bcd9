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
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../../agent/ui/test-support/browser.js';
import { percentile, sampleProcesses, sleep, startAgentProcess } from './agent-process.js';
import { childPids, commName } from './proc-stats.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const round = (n: number) => Math.round(n * 10) / 10;

const summary = (ms: readonly number[]) => ({
  p50: round(percentile(ms, 50)),
  p90: round(percentile(ms, 90)),
  min: round(Math.min(...ms)),
  max: round(Math.max(...ms)),
});

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
  const agent = await startAgentProcess({
    name: 'live',
    camera: { width: 1920, height: 1080, fps: 15, keyframeSeconds: 2 },
    config: { live: { idleStopSeconds: 1 } },
  });
  const { base } = agent;
  const browser = await launchBrowser();
  try {
    const floor = Array.from({ length: RUNS }, () => ffmpegFirstFrameMs(agent.cameraUrl));
    await sleep(6000);
    const page = await agent.pair(browser);

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
    const idle = await sampleProcesses([agent.pid], SECONDS);
    await firstFrame(page, base);
    await sleep(2000);
    // The recorder's ffmpeg is there in both; live view adds a node and an ffmpeg.
    const children = await Promise.all(
      (await childPids(agent.pid)).map(async (pid) => ({
        pid,
        name: await commName(pid),
        args: await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
      })),
    );
    const mediaServer = children.find((c) => c.args.includes('media-server-child'))?.pid;
    const publisher = children.find((c) => c.name === 'ffmpeg' && c.args.includes('rtmp://'))?.pid;
    const [watching, server, ffmpeg] = await Promise.all([
      sampleProcesses([agent.pid], SECONDS),
      mediaServer ? sampleProcesses([mediaServer], SECONDS) : undefined,
      publisher ? sampleProcesses([publisher], SECONDS) : undefined,
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
    await agent.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
