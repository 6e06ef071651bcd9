import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type EmulatedOnvif, startEmulatedOnvif } from '../scripts/camera/onvif/emulated-onvif.js';
import { clockContract } from './contract/clock.contract.js';
import { indicatorContract } from './contract/indicator.contract.js';
import { motionContract } from './contract/motion.contract.js';
import { storageContract } from './contract/storage.contract.js';
import { ManualClock } from './emulated/clock.js';
import { EmulatedIndicator } from './emulated/indicator.js';
import { EmulatedMotionSource } from './emulated/motion.js';
import { EmulatedStorage } from './emulated/storage.js';
import { SystemClock } from './linux/clock.js';
import { GpioMotionSource } from './linux/gpio-motion.js';
import { SysfsLedIndicator } from './linux/indicator.js';
import { OnvifMotionSource } from './linux/onvif-motion.js';
import { LinuxStorage } from './linux/storage.js';

clockContract('linux SystemClock', () => ({
  clock: new SystemClock(),
  tick: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}));
clockContract('emulated ManualClock', () => {
  const clock = new ManualClock();
  return { clock, tick: async (ms) => clock.advance(ms) };
});

storageContract('linux LinuxStorage', () => new LinuxStorage());
storageContract('emulated EmulatedStorage', () => new EmulatedStorage(1e9));

indicatorContract('linux SysfsLedIndicator', async () => {
  // A directory shaped like /sys/class/leds/NAME.
  const dir = await mkdtemp(join(tmpdir(), 'led-'));
  await writeFile(join(dir, 'trigger'), 'none');
  await writeFile(join(dir, 'brightness'), '0');
  return {
    indicator: new SysfsLedIndicator(dir),
    shown: async () =>
      `${await readFile(join(dir, 'trigger'), 'utf8')}/${await readFile(join(dir, 'brightness'), 'utf8')}`,
  };
});
indicatorContract('emulated EmulatedIndicator', async () => {
  const indicator = new EmulatedIndicator();
  return { indicator, shown: async () => indicator.current() };
});

motionContract('linux GpioMotionSource', async () => {
  // A file shaped like /sys/class/gpio/gpioN/value.
  const value = join(await mkdtemp(join(tmpdir(), 'gpio-')), 'value');
  await writeFile(value, '0\n');
  return {
    source: new GpioMotionSource(value, Date.now, 20),
    stimulate: async (ms) => {
      await writeFile(value, '1\n');
      setTimeout(() => void writeFile(value, '0\n'), ms);
    },
  };
});
motionContract('emulated EmulatedMotionSource', async () => {
  const source = new EmulatedMotionSource();
  return { source, stimulate: async (ms) => source.trigger(ms) };
});

// An emulated camera's ONVIF event service, its motion triggered by the test.
let onvifCamera: Promise<EmulatedOnvif> | undefined;
afterAll(async () => {
  await (await onvifCamera)?.stop();
});
motionContract('linux OnvifMotionSource', async () => {
  onvifCamera ??= startEmulatedOnvif({
    host: '127.0.0.1',
    rtspUrls: ['rtsp://127.0.0.1:8554/cam1'],
    startedAt: Date.now(),
    motion: [],
    fps: 25,
    password: 'motion-contract-pw',
  });
  const camera = await onvifCamera;
  const device = camera.devices[0]!;
  return {
    source: new OnvifMotionSource({
      settings: {
        host: device.host,
        port: device.port,
        username: 'admin',
        password: 'motion-contract-pw',
      },
    }),
    stimulate: async (ms) => camera.triggerMotion(1, ms),
  };
});
