import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A live RTSP camera with settings that hurt (B-frames, a long keyframe interval, HEVC),
 * served by GStreamer's RTSP server on loopback (`odd-camera.py`).
 */
export interface OddCamera {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startOddCamera(settings: {
  bframes?: number;
  keyframeFrames?: number;
  codec?: 'h264' | 'h265';
}): Promise<OddCamera> {
  const args = [
    join(import.meta.dirname, 'odd-camera.py'),
    ...['--bframes', String(settings.bframes ?? 0)],
    ...['--keyframe-frames', String(settings.keyframeFrames ?? 25)],
    ...['--codec', settings.codec ?? 'h264'],
  ];
  const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    once(child, 'exit').then(() => null),
  ]);
  clearTimeout(timer);
  lines.close();
  const port = first === null ? undefined : (JSON.parse(first) as { port?: number }).port;
  if (!port) {
    child.kill('SIGKILL');
    throw new Error(`odd-camera.py did not start: ${stderr}`);
  }
  return {
    url: `rtsp://127.0.0.1:${port}/stream`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin.end();
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(kill);
    },
  };
}
