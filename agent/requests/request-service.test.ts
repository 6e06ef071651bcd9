import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hal/linux/clock.js';
import { publishAll } from '../../scripts/agency/publish.js';
import { Pins } from '../recording/pins.js';
import { Mosquitto } from '../test-support/mosquitto.js';
import { waitFor } from '../test-support/poll.js';
import {
  createRequestWorld,
  DEVICE_LOCATION,
  type RequestWorld,
  runAgency,
} from '../test-support/request-world.js';
import { requestTopics } from './build.js';
import { createRequestService, type RequestService } from './request-service.js';

const log = pino({ level: 'silent' });
const iso = (ms: number) => new Date(ms).toISOString();

/** Polls every 5 ms: the 1 s latency check must not be blurred by the polling. */
const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000) =>
  waitFor(check, { what, timeoutMs, intervalMs: 5 });

function startService(world: RequestWorld, embeddedPort?: number): RequestService {
  return createRequestService({
    config: world.config,
    db: world.db,
    clock: new SystemClock(),
    footage: world.footage,
    log,
    backoff: { baseMs: 50, maxMs: 500 },
    ...(embeddedPort !== undefined ? { embeddedPort } : {}),
  });
}

async function ready(service: RequestService): Promise<void> {
  await until('the MQTT subscription', async () =>
    service.connection()?.state === 'ready' ? true : undefined,
  );
}

/** `threshold-agency request … --publish URL` for the world's agency; returns the request id. */
async function publishWithCli(world: RequestWorld, url: string): Promise<string> {
  const now = Date.now();
  // biome-ignore format: flag pairs read best one per line
  const run = await runAgency([
    'request',
    '--agency', world.agencyDir,
    '--delegation', world.delegationPath,
    '--lat', String(world.config.device.location.lat),
    '--lon', String(world.config.device.location.lon),
    '--radius-m', '400',
    '--from', iso(now - 90_000),
    '--to', iso(now - 30_000),
    '--code', 'CASE-7',
    '--title', 'Hit and run',
    '--description', 'A grey van, around noon.',
    '--upload-url', 'https://evidence.example/files',
    '--contact-name', 'Det. Moreau',
    '--publish', url,
    '--json',
  ]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const printed = JSON.parse(run.stdout) as { id: string; topics: string[] };
  expect(printed.topics.length).toBeGreaterThan(0);
  return printed.id;
}

describe('request service over MQTT', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function mosquittoWorld(
    options: { persistence?: boolean } = {},
  ): Promise<{ broker: Mosquitto; world: RequestWorld }> {
    const broker = await Mosquitto.start(options);
    cleanup.push(() => broker.stop());
    const world = await createRequestWorld({ mqttUrl: broker.url });
    cleanup.push(() => world.close());
    return { broker, world };
  }

  it('makes a request published by threshold-agency pending within 1 s, footage pinned', async () => {
    const { broker, world } = await mosquittoWorld();
    const service = startService(world);
    cleanup.push(() => service.stop());
    await service.start(new AbortController().signal);
    await ready(service);

    const id = await publishWithCli(world, broker.url);
    const published = Date.now(); // the CLI exits once the broker acknowledged the PUBLISH
    const stored = await until('pending', async () => {
      const request = await service.store.get(id);
      return request?.state === 'pending' ? request : undefined;
    });
    expect(Date.now() - published).toBeLessThanOrEqual(1000);

    const expected = (await world.footage.overlapping(stored.window.start, stored.window.end)).map(
      (segment) => segment.id,
    );
    expect(expected.length).toBeGreaterThan(20);
    expect(stored.segmentIds).toEqual(expected);
    expect(await new Pins(world.db).pinnedBy(`request:${id}`)).toEqual(expected);
    expect(stored.contact).toEqual({ name: 'Det. Moreau' });
  });

  it('receives a request published while it was stopped (persistent session)', async () => {
    const { broker, world } = await mosquittoWorld();
    const first = startService(world);
    await first.start(new AbortController().signal);
    await ready(first);
    await first.stop();

    const id = await publishWithCli(world, broker.url);
    expect(await first.store.get(id)).toBeUndefined();

    const second = startService(world);
    cleanup.push(() => second.stop());
    await second.start(new AbortController().signal);
    const stored = await until('the queued request', async () => {
      const request = await second.store.get(id);
      return request?.state === 'pending' ? request : undefined;
    });
    expect(stored.segmentIds.length).toBeGreaterThan(0);
  });

  it('keeps running while the broker is down and takes requests once it is back', async () => {
    // Persistence: a request published before the device is back waits in its session.
    const { broker, world } = await mosquittoWorld({ persistence: true });
    const service = startService(world);
    cleanup.push(() => service.stop());
    await service.start(new AbortController().signal);
    await ready(service);
    await broker.restart();
    const id = await publishWithCli(world, broker.url);
    await until('pending after the outage', async () =>
      (await service.store.get(id))?.state === 'pending' ? true : undefined,
    );
  });

  it('works end to end with the embedded broker', async () => {
    const world = await createRequestWorld({ mqttUrl: 'embedded' });
    cleanup.push(() => world.close());
    const service = startService(world, 0);
    cleanup.push(() => service.stop());
    await service.start(new AbortController().signal);
    await ready(service);
    const url = service.embeddedUrl;
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(service.connection()?.protocolVersion).toBe(4);

    const id = await publishWithCli(world, url ?? '');
    const stored = await until('pending', async () => {
      const request = await service.store.get(id);
      return request?.state === 'pending' ? request : undefined;
    });
    expect(stored.agencyName).toBe('Metropolitan Police');
    expect(stored.rootNames).toEqual(['Test Root']);
  });

  it('expires a pending request on its timer and releases the footage', async () => {
    const { broker, world } = await mosquittoWorld();
    const service = createRequestService({
      config: world.config,
      db: world.db,
      clock: new SystemClock(),
      footage: world.footage,
      log,
      expiryIntervalMs: 50,
    });
    cleanup.push(() => service.stop());
    await service.start(new AbortController().signal);
    await ready(service);
    const issuedAt = Date.now();
    const built = world.request({ issuedAt, expiresAt: issuedAt + 1500 });
    await publishRaw(broker.url, built.bytes);
    await until('pending', async () =>
      (await service.store.get(built.id))?.state === 'pending' ? true : undefined,
    );
    expect((await new Pins(world.db).pinnedBy(`request:${built.id}`)).length).toBeGreaterThan(0);
    await until('expired', async () =>
      (await service.store.get(built.id))?.state === 'expired' ? true : undefined,
    );
    expect(await new Pins(world.db).pinnedBy(`request:${built.id}`)).toEqual([]);
  });
});

async function publishRaw(url: string, payload: Buffer): Promise<void> {
  const topics = requestTopics({ ...DEVICE_LOCATION, radiusM: 500 });
  await publishAll(
    { url },
    topics.map((topic) => ({ topic, payload, retain: false })),
  );
}
