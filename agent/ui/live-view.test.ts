import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { continuity } from '../live/test-support/continuity.js';
import { sampleStream, summarizeFlv } from '../live/test-support/flv.js';
import { waitFor } from '../test-support/poll.js';
import { PageClient } from './test-support/http-client.js';
import { createPageWorld, type PageWorld } from './test-support/page-world.js';

/**
 * Live view through the page, over HTTP, on a whole device: Mosquitto, an emulated RTSP
 * camera, the agent recording it, node-media-server in its own process and ffmpeg
 * publishing to it. The browser's side is in `live-view.browser.test.ts`.
 */

let world: PageWorld;
let owner: PageClient;

beforeAll(async () => {
  world = await createPageWorld({
    footageSeconds: 6,
    audio: true,
    live: { idleStopSeconds: 3 },
  });
  owner = new PageClient(world.url);
  await owner.pair(await world.pairingCode());
}, 120_000);

afterAll(async () => {
  await world?.close();
});

const SAME_ORIGIN = { 'Sec-Fetch-Site': 'same-origin' };

function watch(
  client: PageClient,
  headers: Record<string, string> = {},
  maxBytes = 48 * 1024,
  onBytes?: () => void,
) {
  return sampleStream(`${world.url}/live/stream.flv`, {
    headers: { Cookie: client.cookieHeader(), ...SAME_ORIGIN, ...headers },
    maxBytes,
    timeoutMs: 15_000,
    ...(onBytes ? { onBytes } : {}),
  });
}

/** A viewer once its first bytes came: its stream flows through the proxy. */
async function flowing(client: PageClient, maxBytes: number) {
  let started: () => void = () => undefined;
  const bytes = new Promise<void>((resolve) => {
    started = resolve;
  });
  const done = watch(client, {}, maxBytes, started);
  await Promise.race([bytes, done]);
  return { done };
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until live view has stopped: no ffmpeg, no media server. */
async function stopped(): Promise<void> {
  await waitFor(() => world.agent.live.status().state === 'idle', {
    timeoutMs: 15_000,
    what: 'live view to stop',
  });
}

describe('live view through the page', () => {
  it('streams the camera as FLV under our headers only', async () => {
    const sample = await watch(owner);
    expect(sample.status).toBe(200);
    expect(sample.headers['content-type']).toBe('video/x-flv');
    expect(sample.headers['cache-control']).toBe('private, no-store');
    expect(sample.headers['access-control-allow-origin']).toBeUndefined();
    expect(sample.headers['content-security-policy']).toContain("default-src 'none'");
    const flv = summarizeFlv(sample.body);
    expect(flv.header).toBe(true);
    expect(flv.keyframes).toBeGreaterThan(0);
    // The camera has sound; the owner has not turned it on for live view.
    expect(flv.audioTags).toBe(0);
    await stopped();
  }, 60_000);

  it('carries sound once the owner turns it on, and none once off again', async () => {
    const page = await owner.get('/live');
    expect(page.body).toContain('Turn sound on');
    const on = await owner.post('/live/audio', { csrf: PageClient.csrfOf(page.body), audio: 'on' });
    expect(on.status).toBe(303);
    expect((await owner.get('/live?saved=1')).body).toContain('Live view now carries sound.');
    const withSound = summarizeFlv((await watch(owner, {}, 200 * 1024)).body);
    expect(withSound.audioTags).toBeGreaterThan(0);
    expect(withSound.keyframes).toBeGreaterThan(0);
    await stopped();
    // A forged form changes nothing.
    const forged = await owner.post('/live/audio', { csrf: 'forged', audio: 'off' });
    expect(forged.status).toBe(403);
    expect((await owner.get('/live')).body).toContain('Turn sound off');
    const again = await owner.get('/live');
    await owner.post('/live/audio', { csrf: PageClient.csrfOf(again.body), audio: 'off' });
    const silent = summarizeFlv((await watch(owner, {}, 100 * 1024)).body);
    expect(silent.audioTags).toBe(0);
    await stopped();
  }, 90_000);

  it('two viewers share one ffmpeg; both gone, ffmpeg and the media server stop within 15 s', async () => {
    const starts = world.agent.live.publisherStarts;
    const second = new PageClient(world.url);
    await second.pair(await world.pairingCode());
    // Both watch at once, for long enough to overlap: 400 kB each at the camera's rate.
    const [a, b] = await Promise.all([
      watch(owner, {}, 200 * 1024),
      (async () => {
        await waitFor(() => world.agent.live.status().state === 'live', {
          timeoutMs: 15_000,
          what: 'the first viewer to be live',
        });
        const pids = world.agent.live.pids;
        const sample = await watch(second, {}, 100 * 1024);
        expect(world.agent.live.pids.publisher).toBe(pids.publisher);
        return sample;
      })(),
    ]);
    expect(summarizeFlv(a.body).keyframes).toBeGreaterThan(0);
    expect(summarizeFlv(b.body).keyframes).toBeGreaterThan(0);
    expect(world.agent.live.publisherStarts - starts).toBe(1);
    const { publisher, mediaServer } = world.agent.live.pids;
    // The viewers have hung up (sampleStream does): idle 3 s here, 10 s by default.
    const left = Date.now();
    await waitFor(() => !alive(publisher) && !alive(mediaServer), {
      timeoutMs: 15_000,
      what: 'ffmpeg and the media server to stop',
    });
    expect(Date.now() - left).toBeLessThan(15_000);
    expect(world.agent.live.status()).toMatchObject({ state: 'idle', viewers: 0 });
  }, 90_000);

  it('streams nothing without a session, to a foreign Host or Origin, or cross-site', async () => {
    const stranger = new PageClient(world.url);
    const cases: [string, PageClient, Record<string, string>, number][] = [
      ['no session', stranger, {}, 401],
      ['foreign Host', owner, { Host: `evil.example:${new URL(world.url).port}` }, 421],
      ['foreign Origin', owner, { Origin: 'http://evil.example' }, 403],
      ['cross-site fetch', owner, { 'Sec-Fetch-Site': 'cross-site' }, 403],
      ['same-site fetch', owner, { 'Sec-Fetch-Site': 'same-site' }, 403],
    ];
    for (const [what, client, headers, status] of cases) {
      const sample = await watch(client, headers);
      expect(sample.status, what).toBe(status);
      expect(summarizeFlv(sample.body).header, what).toBe(false);
    }
    // None of them started anything.
    expect(world.agent.live.status()).toMatchObject({ state: 'idle', viewers: 0 });
  }, 60_000);

  it('streams nothing straight from the media server without the signed URL', async () => {
    const watching = watch(owner, {}, 100 * 1024);
    await waitFor(() => world.agent.live.status().state === 'live', { what: 'live view' });
    const server = world.agent.live.pids.mediaServer as number;
    // Its ports, from the kernel's table of the process's listening sockets.
    const ports = await listeningPorts(server);
    expect(ports.length).toBe(2);
    for (const port of ports) {
      const stream = world.agent.live.streamName;
      for (const path of [`/live/${stream}.flv`, `/live/${stream}.flv?sign=1-00`]) {
        const sample = await sampleStream(`http://127.0.0.1:${port}${path}`, { timeoutMs: 1500 });
        expect(summarizeFlv(sample.body).header, `${port}${path}`).toBe(false);
      }
    }
    const sample = await watching;
    expect(summarizeFlv(sample.body).keyframes).toBeGreaterThan(0);
    await stopped();
  }, 60_000);

  it('recording has no gap and no restart: while watching, with the media server killed, and after', async () => {
    const before = await continuity(world.agent.db);
    const from = Date.now();
    // Watch ~6 s, kill the media server mid-view, watch again once it is back, stop.
    const first = watch(owner, {}, 8 * 1024 * 1024);
    await waitFor(() => world.agent.live.status().state === 'live', { what: 'live view' });
    const killed = world.agent.live.pids.mediaServer as number;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    process.kill(killed, 'SIGKILL');
    const cut = await first;
    expect(summarizeFlv(cut.body).keyframes).toBeGreaterThan(0);
    // The viewer's stream ended with the server; a new one plays from a new server.
    const again = await watch(owner);
    expect(summarizeFlv(again.body).keyframes).toBeGreaterThan(0);
    expect(world.agent.live.pids.mediaServer).not.toBe(killed);
    await stopped();
    // Recording went on through all of it, and goes on after.
    await waitFor(async () => (await continuity(world.agent.db)).lastEndMs > Date.now() - 3000, {
      timeoutMs: 15_000,
      what: 'a segment after live view stopped',
    });
    const after = await continuity(world.agent.db, from - 2000);
    expect(after.runs).toBe(before.runs);
    expect(after.segments).toBeGreaterThan(4);
    expect(after.maxGapMs).toBeLessThan(300);
    expect(world.agent.recorder.status().state).toBe('recording');
  }, 120_000);

  it('ends a stream at once when its browser logs out', async () => {
    const leaving = new PageClient(world.url);
    await leaving.pair(await world.pairingCode());
    const started = Date.now();
    const watching = await flowing(leaving, 64 * 1024 * 1024);
    const page = await leaving.get('/live');
    const out = await leaving.post('/logout', { csrf: PageClient.csrfOf(page.body) });
    expect(out.status).toBe(303);
    const sample = await watching.done;
    // It played, and ended with the session rather than at the sample's 30 s limit.
    expect(summarizeFlv(sample.body).keyframes).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await watch(leaving)).status).toBe(401);
    await stopped();
  }, 60_000);

  it('says in plain words when live view cannot run, and the rest of the page works', async () => {
    const status = await owner.get('/live/status');
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ state: 'idle', viewers: 0 });
    const page = await owner.get('/live');
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="live-video"');
    expect(page.body).toContain('<script src="/static/mpegts.js" defer>');
    const player = await owner.get('/static/mpegts.js');
    expect(player.status).toBe(200);
    expect(player.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(player.body).toContain('mpegts');
  });
});

describe('stopping the agent mid-view', () => {
  it('leaves no media server and no ffmpeg behind', async () => {
    const watching = await flowing(owner, 64 * 1024 * 1024);
    const { publisher, mediaServer } = world.agent.live.pids;
    expect(alive(publisher) && alive(mediaServer)).toBe(true);
    await world.agent.stop();
    // The stream ended with the agent (how it ends does not matter here).
    await watching.done.catch(() => undefined);
    expect(alive(publisher)).toBe(false);
    expect(alive(mediaServer)).toBe(false);
  }, 60_000);
});

describe('live view when it cannot start', () => {
  let broken: PageWorld;
  let client: PageClient;

  beforeAll(async () => {
    // Where the media server keeps its store is a file: the server cannot start.
    broken = await createPageWorld({
      footageSeconds: 2,
      liveReadyTimeoutMs: 3000,
      beforeStart: (dataDir) => writeFile(join(dataDir, 'live'), 'not a directory'),
    });
    client = new PageClient(broken.url);
    await client.pair(await broken.pairingCode());
  }, 120_000);

  afterAll(async () => {
    await broken?.close();
  });

  it('answers 503 with the reason, keeps the page working, and a retry works once fixed', async () => {
    const sample = await sampleStream(`${broken.url}/live/stream.flv`, {
      headers: { Cookie: client.cookieHeader(), ...SAME_ORIGIN },
      timeoutMs: 15_000,
    });
    expect(sample.status).toBe(503);
    expect(sample.body.toString()).toContain('The live view service is not running;');
    const status = JSON.parse((await client.get('/live/status')).body);
    expect(status.problem?.code).toBe('media_server_down');
    expect((await client.get('/')).status).toBe(200);
    expect((await client.get('/history')).status).toBe(200);
    expect(broken.agent.recorder.status().state).toBe('recording');
    // Fixed, a retry plays.
    await rm(join(broken.config.dataDir, 'live'));
    await mkdir(join(broken.config.dataDir, 'live'));
    const retry = await waitFor(
      async () => {
        const s = await sampleStream(`${broken.url}/live/stream.flv`, {
          headers: { Cookie: client.cookieHeader(), ...SAME_ORIGIN },
          timeoutMs: 15_000,
        });
        return s.status === 200 && s;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'a retry to play' },
    );
    expect(summarizeFlv(retry.body).keyframes).toBeGreaterThan(0);
  }, 90_000);
});

/** The TCP ports `pid` listens on, from /proc (its sockets' inodes in the kernel's table). */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1]) inodes.add(match[1]);
  }
  const ports: number[] = [];
  const table = await readFile('/proc/net/tcp', 'utf8');
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] !== '0A' || !inodes.has(fields[9] ?? '')) continue;
    ports.push(Number.parseInt((fields[1] ?? '').split(':')[1] ?? '', 16));
  }
  return ports;
}
