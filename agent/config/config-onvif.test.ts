import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseConfig } from './load.js';

const base = {
  dataDir: 'data',
  device: { location: { lat: 52.37, lon: 4.89 } },
};
const onvifCamera = {
  source: 'onvif',
  host: '192.0.2.10',
  username: 'admin',
  password: 'config-Secret-1',
};

function problems(config: unknown): string[] {
  try {
    parseConfig(JSON.stringify(config), '/');
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('config: ONVIF cameras and motion sensors', () => {
  it('takes an onvif camera, port 80 by default, with onvif motion', () => {
    const config = parseConfig(
      JSON.stringify({ ...base, camera: onvifCamera, motion: { source: 'onvif' } }),
      '/',
    );
    expect(config.camera).toEqual({ ...onvifCamera, port: 80 });
    expect(config.motion.source).toBe('onvif');
  });

  it('refuses onvif motion without an onvif camera, naming motion.source', () => {
    const found = problems({
      ...base,
      camera: { source: 'rtsp', url: 'rtsp://cam.local/stream' },
      motion: { source: 'onvif' },
    });
    expect(found).toEqual([expect.stringMatching(/^motion\.source: .*onvif/)]);
  });

  it('names the keys of a bad onvif camera and never echoes the password', () => {
    const found = problems({
      ...base,
      camera: { ...onvifCamera, host: 'bad host/x', port: 70_000, password: 7, extra: 'x' },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^camera\.host: /),
        expect.stringMatching(/^camera\.port: /),
        expect.stringMatching(/^camera\.password: /),
        'camera.extra: unknown key',
      ]),
    );
    const secret = problems({ ...base, camera: { ...onvifCamera, host: 'config-Secret-1 x' } });
    expect(secret.join('\n')).not.toContain('config-Secret-1');
  });

  it('takes a PIR sensor on a GPIO value file, or an emulated one', () => {
    const gpio = parseConfig(
      JSON.stringify({
        ...base,
        camera: onvifCamera,
        motion: { source: 'pir', pir: { gpio: '/sys/class/gpio/gpio17/value' } },
      }),
      '/',
    );
    expect(gpio.motion.pir.gpio).toBe('/sys/class/gpio/gpio17/value');
    const emulated = parseConfig(
      JSON.stringify({ ...base, camera: onvifCamera, motion: { source: 'pir' } }),
      '/',
    );
    expect(emulated.motion.pir.gpio).toBeUndefined();
  });
});
