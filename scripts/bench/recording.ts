/**
 * The agent's own cost while recording one 1080p25 camera: RSS and CPU of the agent
 * process, ffmpeg excluded (measured apart), over `--seconds` (default 60) of recording.
 * Floors measured in the same run: an idle Node process's RSS, and ffmpeg's own CPU.
 * Targets (DESIGN.md): RSS ≤ 100 MB, CPU ≤ 3 % of a core besides ffmpeg.
 *
 *   npx tsx scripts/bench/recording.ts [--seconds 60]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulatedCameras } from '../camera/emulated-camera.js';
import { childPids, commName, cpuSeconds, median, rssBytes } from './proc-stats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const seconds = Number(values.seconds);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function idleNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await sleep(1000);
  const rss = await rssBytes(child.pid ?? 0);
  child.kill();
  return rss;
}

async function main() {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const dir = await mkdtemp(join(tmpdir(), 'bench-recording-'));
  const camera = await startEmulatedCameras({ cameras: 1, keyframeSeconds: 1 });
  const config = {
    dataDir: join(dir, 'data'),
    device: { location: { lat: 52.37, lon: 4.89 } },
    camera: { source: 'rtsp', url: camera.urls[0] },
    retention: { minFreeBytes: 0 },
    log: { level: 'warn' },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const agent = spawn(
    process.execPath,
    [join(ROOT, 'dist/agent/cli/entry.js'), 'run', '--config', join(dir, 'config.json')],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const pid = agent.pid ?? 0;
  try {
    // Let it settle: ffmpeg connected, first segments indexed, JIT warm.
    await sleep(8000);
    const ffmpegPid = (
      await Promise.all((await childPids(pid)).map(async (p) => [p, await commName(p)] as const))
    ).find(([, name]) => name === 'ffmpeg')?.[0];
    if (!ffmpegPid) throw new Error('the agent runs no ffmpeg');
    const agentCpu0 = await cpuSeconds(pid);
    const ffmpegCpu0 = await cpuSeconds(ffmpegPid);
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      rss.push(await rssBytes(pid));
      await sleep(1000);
    }
    const wall = (performance.now() - t0) / 1000;
    const agentCpu = (await cpuSeconds(pid)) - agentCpu0;
    const ffmpegCpu = (await cpuSeconds(ffmpegPid)) - ffmpegCpu0;
    const floorRss = await idleNodeRss();
    const result = {
      bench: 'recording',
      camera: '1920x1080 25 fps H.264, keyframe every 1 s',
      seconds: Math.round(wall),
      agent: {
        rssMedianMB: +(median(rss) / 2 ** 20).toFixed(1),
        rssMaxMB: +(Math.max(...rss) / 2 ** 20).toFixed(1),
        cpuPercentOfCore: +((agentCpu / wall) * 100).toFixed(2),
      },
      floor: {
        idleNodeRssMB: +(floorRss / 2 ** 20).toFixed(1),
        ffmpegCpuPercentOfCore: +((ffmpegCpu / wall) * 100).toFixed(2),
      },
      targets: { rssMB: 100, cpuPercentOfCore: 3 },
    };
    const pass = result.agent.rssMaxMB <= 100 && result.agent.cpuPercentOfCore <= 3;
    console.log(JSON.stringify({ ...result, pass }, null, 2));
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    await camera.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
