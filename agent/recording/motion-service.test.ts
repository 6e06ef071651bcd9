import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hal/emulated/clock.js';
import { EmulatedMotionSource } from '../../hal/emulated/motion.js';
import { GpioMotionSource } from '../../hal/linux/gpio-motion.js';
import { OnvifMotionSource } from '../../hal/linux/onvif-motion.js';
import { hardwareFor } from '../compose.js';
import { parseConfig } from '../config/load.js';
import { Database } from '../db/database.js';
import { createLogger } from '../log.js';
import { tempDir } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { MotionService } from './motion-service.js';
import { MotionStore } from './motion-store.js';

/** A PIR-style sensor (the emulated one) recorded into the motion store on disk. */
describe('MotionService', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function world() {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const db = await Database.open(join(dir, 'agent.db'));
    cleanups.push(() => db.close());
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
    const source = new EmulatedMotionSource(() => clock.now());
    const store = new MotionStore(db);
    const service = new MotionService({
      source,
      store,
      clock,
      log: createLogger({ level: 'silent' }),
    });
    return { db, clock, source, store, service };
  }

  it('stores an event when it opens and closes the same row when it ends', async () => {
    const { clock, source, store, service } = await world();
    await service.start(new AbortController().signal);
    const start = clock.now();
    source.trigger(1500);
    const opened = await waitFor(async () => (await store.overlapping(start, start))[0], {
      what: 'the open event',
    });
    expect(opened).toMatchObject({ start, end: null, source: 'emulated' });
    clock.advance(4000);
    const closed = await waitFor(
      async () => (await store.overlapping(start, start)).find((e) => e.end !== null),
      { what: 'the closed event' },
    );
    expect(closed).toMatchObject({ id: opened.id, start, end: start + 4000 });
    expect(await store.count()).toBe(1);
    await service.stop();
  });

  it('ends an event still open at stop, and records nothing after', async () => {
    const { clock, source, store, service } = await world();
    await service.start(new AbortController().signal);
    const start = clock.now();
    source.trigger(60_000);
    await waitFor(async () => (await store.count()) === 1, { what: 'the open event' });
    clock.advance(1500);
    await service.stop();
    expect(await store.overlapping(start, start)).toMatchObject([{ start, end: start + 1500 }]);
    source.trigger(10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await store.count()).toBe(1);
  });

  it('is wired from the config: onvif, a GPIO PIR, an emulated PIR, or none', () => {
    const motionOf = (camera: object, motion: object) =>
      hardwareFor(
        parseConfig(
          JSON.stringify({
            dataDir: '/tmp/unused',
            device: { location: { lat: 52.37, lon: 4.89 } },
            camera,
            motion,
          }),
          '/',
        ),
      ).motion;
    const onvif = { source: 'onvif', host: '127.0.0.1', username: 'u', password: 'p' };
    const rtsp = { source: 'rtsp', url: 'rtsp://127.0.0.1/x' };
    expect(motionOf(onvif, { source: 'onvif' })).toBeInstanceOf(OnvifMotionSource);
    expect(
      motionOf(rtsp, { source: 'pir', pir: { gpio: '/sys/class/gpio/gpio4/value' } }),
    ).toBeInstanceOf(GpioMotionSource);
    expect(motionOf(rtsp, { source: 'pir' })).toBeInstanceOf(EmulatedMotionSource);
    expect(motionOf(onvif, { source: 'scene' })).toBeUndefined();
  });
});
