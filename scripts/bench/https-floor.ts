import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { pipeline } from 'node:stream/promises';

/**
 * What the upload and share benches share: children that print one JSON line when ready
 * (the receiver, the floor server), and the floor itself, one HTTPS PUT of a file to
 * `upload-floor-server.ts` on loopback.
 */

/** Starts a child that prints one JSON line when ready; returns it and that line. */
export async function startChild(
  args: string[],
  ready: (line: Record<string, unknown>) => boolean,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, THRESHOLD_LOG_LEVEL: 'warn' },
  });
  let buffered = '';
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      buffered += text;
      for (const raw of buffered.split('\n').slice(0, -1)) {
        const parsed = JSON.parse(raw) as Record<string, unknown>;
        if (ready(parsed)) resolve(parsed);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
  });
  return { child, line };
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function putOnce(file: string, port: number, ca: Buffer): Promise<number> {
  const agent = new Agent({ ca });
  const { size } = await stat(file);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        method: 'PUT',
        path: '/floor',
        agent,
        headers: { 'Content-Length': String(size) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 204 ? resolve() : reject(new Error(`PUT ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), req).catch(reject);
  });
  const ms = performance.now() - started;
  agent.destroy();
  return ms;
}
