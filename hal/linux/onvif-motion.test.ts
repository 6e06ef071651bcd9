import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../agent/test-support/poll.js';
import { startEmulatedCameras } from '../../scripts/camera/emulated-camera.js';
import {
  type EmulatedOnvif,
  startEmulatedOnvif,
} from '../../scripts/camera/onvif/emulated-onvif.js';
import type { MotionEvent } from '../interfaces.js';
import { type OnvifMotionDeps, OnvifMotionSource } from './onvif-motion.js';

const PASSWORD = 'motion-Pass-77';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function emulator(options: { ports?: number[]; maxPullMs?: number } = {}) {
  const onvif = await startEmulatedOnvif({
    host: '127.0.0.1',
    rtspUrls: ['rtsp://127.0.0.1:8554/cam1'],
    startedAt: Date.now(),
    motion: [],
    fps: 25,
    password: PASSWORD,
    ...options,
  });
  cleanups.push(() => onvif.stop());
  return onvif;
}

/** A started source and everything it reported and logged. */
async function source(onvif: EmulatedOnvif, deps: Partial<OnvifMotionDeps> = {}) {
  const device = onvif.devices[0]!;
  const events: MotionEvent[] = [];
  const logged: string[] = [];
  const log = {
    info: (fields: object, message: string) => logged.push(JSON.stringify({ fields, message })),
    warn: (fields: object, message: string) => logged.push(JSON.stringify({ fields, message })),
  };
  const motion = new OnvifMotionSource({
    settings: { host: device.host, port: device.port, username: 'admin', password: PASSWORD },
    maxBackoffMs: 1000,
    log,
    ...deps,
  });
  await motion.start(new AbortController().signal, (event) => events.push(event));
  cleanups.push(() => motion.stop());
  return { motion, events, logged };
}

/**
 * Triggers half a second of motion every second from now until the source reports it;
 * resolves with how long that took.
 */
async function resumesAfter(onvif: EmulatedOnvif, events: MotionEvent[]): Promise<number> {
  const from = Date.now();
  const before = events.length;
  const trigger = setInterval(() => onvif.triggerMotion(1, 500), 1000);
  onvif.triggerMotion(1, 500);
  try {
    await waitFor(() => events.slice(before).some((e) => e.end !== null), {
      timeoutMs: 15_000,
      what: 'motion after the fault',
    });
  } finally {
    clearInterval(trigger);
  }
  return Date.now() - from;
}

describe('OnvifMotionSource against the emulated ONVIF camera', () => {
  it('reports the scripted motion of the video within 2 s', async () => {
    const cameras = await startEmulatedCameras({
      size: { width: 320, height: 240 },
      fps: 10,
      motion: [{ start: 5, end: 8 }],
      onvif: { password: PASSWORD },
    });
    cleanups.push(() => cameras.stop());
    const { events, logged } = await source(cameras.onvif!);
    const closed = await waitFor(() => events.find((e) => e.end !== null), {
      timeoutMs: 20_000,
      what: 'the scripted motion',
    });
    expect(events[0]).toMatchObject({ start: closed.start, end: null, source: 'onvif' });
    expect(Math.abs(closed.start - (cameras.startedAt + 5000))).toBeLessThanOrEqual(2000);
    expect(Math.abs((closed.end ?? 0) - (cameras.startedAt + 8000))).toBeLessThanOrEqual(2000);
    expect(logged.join('\n')).not.toContain(PASSWORD);
  }, 40_000);

  it('subscribes again within 10 s after the event service faults', async () => {
    const onvif = await emulator();
    const { motion, events, logged } = await source(onvif);
    expect(motion.stats.subscribed).toBe(1);
    onvif.setFaulting(true);
    await waitFor(() => motion.stats.failures >= 2, { what: 'failed attempts while faulting' });
    onvif.setFaulting(false);
    expect(await resumesAfter(onvif, events)).toBeLessThanOrEqual(10_000);
    expect(motion.stats.subscribed).toBeGreaterThanOrEqual(2);
    expect(motion.stats.lastError?.code).toBe('onvif_fault');
    expect(logged.join('\n')).not.toContain(PASSWORD);
  }, 40_000);

  it('subscribes again within 10 s after the camera restarts', async () => {
    const first = await emulator();
    const { motion, events } = await source(first);
    const port = first.devices[0]!.port;
    await first.stop();
    await waitFor(() => motion.stats.failures >= 1, { what: 'the subscription to be lost' });
    const second = await emulator({ ports: [port] });
    expect(await resumesAfter(second, events)).toBeLessThanOrEqual(10_000);
    expect(motion.stats.lastError?.code).toBe('onvif_unreachable');
  }, 40_000);

  it('gives up on a long poll that stays unanswered, and subscribes again', async () => {
    // A camera that answers each pull within a second; the source waits three.
    const onvif = await emulator({ maxPullMs: 1000 });
    const { motion, events } = await source(onvif, { pullDeadlineMs: 3000, timeoutMs: 2000 });
    // Healthy: pulls come back empty every second, past the deadline, and nothing fails.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(motion.stats.failures).toBe(0);
    onvif.setSilent(true);
    await waitFor(() => motion.stats.failures >= 1, { what: 'the silent camera to be noticed' });
    expect(motion.stats.lastError?.code).toBe('onvif_timeout');
    onvif.setSilent(false);
    expect(await resumesAfter(onvif, events)).toBeLessThanOrEqual(10_000);
  }, 40_000);

  it('renews the subscription before it terminates, without making a new one', async () => {
    const onvif = await emulator({ maxPullMs: 300 });
    // Renew whenever fewer than 119.5 s of the two minutes the library asks for are left.
    const { motion } = await source(onvif, { renewBeforeMs: 119_500 });
    await waitFor(() => motion.stats.renewed >= 3, { what: 'renewals' });
    expect(motion.stats.subscribed).toBe(1);
    expect(motion.stats.failures).toBe(0);
    expect(onvif.subscriptions(1)).toBe(1);
  }, 20_000);

  it('unsubscribes on stop and reports nothing after', async () => {
    const onvif = await emulator();
    const { motion, events } = await source(onvif);
    expect(onvif.subscriptions(1)).toBe(1);
    await motion.stop();
    expect(onvif.subscriptions(1)).toBe(0);
    onvif.triggerMotion(1, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(events).toEqual([]);
  });

  it('keeps credentials out of what it logs when the password is wrong', async () => {
    const onvif = await emulator();
    const device = onvif.devices[0]!;
    const logged: string[] = [];
    const wrong = 'Wrong-Secret-123';
    const motion = new OnvifMotionSource({
      settings: { host: device.host, port: device.port, username: 'admin', password: wrong },
      authBackoffMs: 200,
      log: {
        info: (fields, message) => logged.push(JSON.stringify({ fields, message })),
        warn: (fields, message) => logged.push(JSON.stringify({ fields, message })),
      },
    });
    await motion.start(new AbortController().signal, () => {});
    cleanups.push(() => motion.stop());
    await waitFor(() => motion.stats.failures >= 2, { what: 'refused attempts' });
    expect(motion.stats.lastError?.code).toBe('onvif_auth');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain(wrong);
    expect(logged.join('\n')).not.toContain(PASSWORD);
  });
});
