import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exited, ROOT } from '../../agent/test-support/cli.js';
import { waitFor } from '../../agent/test-support/poll.js';
import { type UploadWorld, uploadWorld } from '../../agent/upload/test-support/upload-world.js';

let world: UploadWorld;
let child: ChildProcess | undefined;
beforeEach(async () => {
  world = await uploadWorld();
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await world.close();
});

describe('threshold-agency receive (the command)', () => {
  it('prints one JSON line per verified clip, and stops cleanly on SIGTERM', async () => {
    const out = join(world.dir, 'cli-received');
    // biome-ignore format: flag pairs read best one per line
    child = spawn(process.execPath, [
      '--import', 'tsx', join(ROOT, 'scripts/agency/entry.ts'), 'receive',
      '--key', world.keyDir,
      '--listen', '127.0.0.1:0',
      '--tls-cert', world.ca.certFile,
      '--tls-key', world.ca.keyFile,
      '--out', out,
      '--json',
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const lines = () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const listening = await waitFor(() => lines().find((line) => line.event === 'listening'), {
      timeoutMs: 30_000,
      what: 'the receiver to listen',
    });
    const endpoint = String(listening.endpoint);
    const pair = await world.sealPair({ plaintext: randomBytes(100_000), clipIndex: 3 });
    const uploader = world.uploader();
    await uploader.upload({ ...world.input(pair.clip, 'clip', 3), endpoint });
    await uploader.upload({ ...world.input(pair.custody, 'custody', 3), endpoint });
    const clip = await waitFor(() => lines().find((line) => line.event === 'clip'), {
      timeoutMs: 30_000,
    });
    expect(clip).toMatchObject({
      requestId: world.requestId,
      clipIndex: 3,
      path: join(out, world.requestId, 'clip-3.mp4'),
      bytes: 100_000,
      custody: { cutMode: 'fast', audio: false, clockSync: 'synced', sourceSegments: 1 },
    });
    expect(
      Buffer.compare(await readFile(String(clip.path)), await readFile(pair.plaintextPath)),
    ).toBe(0);
    const running = child;
    const stopped = exited(running);
    running.kill('SIGTERM');
    const result = await Promise.race([
      stopped,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no exit after SIGTERM')), 15_000),
      ),
    ]);
    expect(result).toEqual({ code: 0, signal: null });
    expect(lines().filter((line) => line.event === 'clip')).toHaveLength(1);
  });
});
