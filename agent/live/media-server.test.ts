import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { waitFor } from '../test-support/poll.js';
import { MediaServer } from './media-server.js';
import { sampleStream, summarizeFlv } from './test-support/flv.js';

/**
 * The media server boxed in its own process: a real node-media-server with a real
 * ffmpeg publishing a test picture. What the box promises: loopback only, nothing
 * without a signed URL, no web admin, no API, no CORS header, the secret nowhere a
 * process listing or a log shows it.
 */

const STREAM = 'box-test';
let dir: string;
let server: MediaServer;
let publisher: ChildProcess;
const logLines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-nms-'));
  const log = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logLines.push(line) },
  });
  server = await MediaServer.start({ storeDir: join(dir, 'store'), log });
  await server.ready;
  publisher = publish(server.publishUrl(STREAM));
  await waitFor(
    async () => summarizeFlv((await sampleStream(server.playUrl(STREAM))).body).keyframes > 0,
    { timeoutMs: 20_000, intervalMs: 300, what: 'the signed play URL to stream' },
  );
}, 60_000);

afterAll(async () => {
  publisher?.kill('SIGKILL');
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function publish(url: string): ChildProcess {
  // biome-ignore format: flag pairs read best one per line
  return spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15',
    '-f', 'flv', url,
  ], { stdio: 'ignore' });
}

/** The listening sockets of a process's ports from /proc/net/tcp{,6}: local address per port. */
async function listeners(ports: number[]): Promise<Map<number, string[]>> {
  const found = new Map<number, string[]>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue;
      const [address = '', portHex = ''] = local.split(':');
      const port = Number.parseInt(portHex, 16);
      if (ports.includes(port)) found.set(port, [...(found.get(port) ?? []), address]);
    }
  }
  return found;
}

function status(url: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      // Headers are all that is asked: a stream's body would never end.
      res.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    }).on('error', reject);
  });
}

describe('the media server in its box', () => {
  it('listens on 127.0.0.1 only, on the two ports the agent picked', async () => {
    const found = await listeners([server.ports.rtmp, server.ports.http]);
    // 0100007F is 127.0.0.1 as /proc/net/tcp writes it; nothing on 0.0.0.0 or IPv6.
    expect(found.get(server.ports.rtmp)).toEqual(['0100007F']);
    expect(found.get(server.ports.http)).toEqual(['0100007F']);
  });

  it('plays nothing without the signature, with a forged one, or an expired one', async () => {
    const base = `http://127.0.0.1:${server.ports.http}/live/${STREAM}.flv`;
    const signed = new URL(server.playUrl(STREAM)).searchParams.get('sign') ?? '';
    const [expiry, hash = ''] = signed.split('-');
    const forged = `${expiry}-${hash.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))}`;
    const past = Math.floor(Date.now() / 1000) - 10;
    for (const url of [base, `${base}?sign=${forged}`, `${base}?sign=${past}-${hash}`]) {
      const sample = await sampleStream(url, { timeoutMs: 2000 });
      expect(summarizeFlv(sample.body).header, url).toBe(false);
      expect(sample.body.length, url).toBe(0);
    }
    // The signed URL of the same stream plays, in the same run.
    const good = await sampleStream(server.playUrl(STREAM), { timeoutMs: 5000 });
    expect(summarizeFlv(good.body).videoTags).toBeGreaterThan(0);
  });

  it('takes no publish without the signature', async () => {
    const rogue = publish(`rtmp://127.0.0.1:${server.ports.rtmp}/live/rogue`);
    try {
      const code = await new Promise<number | null>((resolve) => rogue.once('exit', resolve));
      expect(code).not.toBe(0);
      const sample = await sampleStream(server.playUrl('rogue'), { timeoutMs: 1500 });
      expect(summarizeFlv(sample.body).videoTags).toBe(0);
    } finally {
      rogue.kill('SIGKILL');
    }
  });

  it('has no web admin and no API', async () => {
    const http = `http://127.0.0.1:${server.ports.http}`;
    for (const path of ['/admin/', '/api/v1/info', '/api/v1/streams', '/api/v1/login']) {
      expect((await status(`${http}${path}`)).status, path).toBe(404);
    }
    // It does send "Access-Control-Allow-Origin: *" on streams; the agent's proxy passes
    // none of its headers on (asserted in the page's live view tests).
    expect((await status(server.playUrl(STREAM))).headers['access-control-allow-origin']).toBe('*');
  });

  it('keeps its secret off the command line and out of the log', async () => {
    const pid = server.pid as number;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline.join(' ')).not.toMatch(/[0-9a-f]{64}/);
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    expect(environ).not.toMatch(/[0-9a-f]{64}/);
    const signature = new URL(server.playUrl(STREAM)).searchParams.get('sign') ?? '';
    const hash = signature.split('-')[1] ?? '';
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    const log = logLines.join('');
    // Its lines reach our log (plays and publishes at debug) with the signatures masked.
    expect(log).toContain('"media server"');
    expect(log).not.toContain(hash);
  });

  it('stops on stop(), leaving no process', async () => {
    const second = await MediaServer.start({
      storeDir: join(dir, 'store-2'),
      log: createLogger({ level: 'silent' }),
    });
    await second.ready;
    const pid = second.pid as number;
    await second.stop();
    expect(second.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('does not outlive an agent that is killed', async () => {
    const agent = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'test-support', 'orphan-media-server.ts'), dir],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    agent.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const pid = await waitFor(() => /^(\d+)\n/.exec(out)?.[1], {
      timeoutMs: 20_000,
      what: 'the media server to start',
    });
    expect(() => process.kill(Number(pid), 0)).not.toThrow();
    agent.kill('SIGKILL');
    await waitFor(
      () => {
        try {
          process.kill(Number(pid), 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 5000, what: 'the orphaned media server to exit' },
    );
  });
});
