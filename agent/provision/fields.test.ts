import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/cli.js';
import { AnswerError } from './answers.js';
import {
  ALL_FIELDS,
  cameraHost,
  cameraProfile,
  latitude,
  longitude,
  mqttCa,
  mqttUrl,
  trustRoots,
  trustThreshold,
} from './fields.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-fields-'));
});
afterAll(async () => {
  await cleanup?.();
});

const problem = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AnswerError) return err.message;
    throw err;
  }
  throw new Error('accepted');
};

describe('provisioning fields', () => {
  it('every field has its own flag', () => {
    const flags = ALL_FIELDS.map((f) => f.flag);
    expect(new Set(flags).size).toBe(flags.length);
  });

  it('checks coordinates: range and form, in words', () => {
    expect(latitude.parse('52.3702')).toBe(52.3702);
    expect(longitude.parse('-4.5')).toBe(-4.5);
    expect(problem(() => latitude.parse('91'))).toBe('the latitude must be from -90 to 90');
    expect(problem(() => longitude.parse('181'))).toBe('the longitude must be from -180 to 180');
    expect(problem(() => latitude.parse('52,37'))).toMatch(/decimal degrees, such as 52.3702/);
    expect(problem(() => latitude.parse(''))).toBe('the latitude is required');
  });

  it('takes host names and addresses, not URLs', () => {
    expect(cameraHost.parse('192.168.1.20')).toBe('192.168.1.20');
    expect(cameraHost.parse('doorbell.local')).toBe('doorbell.local');
    expect(cameraHost.parse('[fe80::1]')).toBe('fe80::1');
    expect(problem(() => cameraHost.parse('http://192.168.1.20'))).toMatch(/without http/);
  });

  it('picks a profile by number or token', () => {
    const field = cameraProfile(
      [
        { token: 'main', label: 'Main' },
        { token: 'sub', label: 'Sub' },
      ],
      'main',
    );
    expect(field.parse('2')).toBe('sub');
    expect(field.parse('main')).toBe('main');
    expect(problem(() => field.parse('3'))).toBe('no such profile; the camera has main, sub');
  });

  it('checks the broker URL with the config schema’s rule; none means no broker', () => {
    expect(mqttUrl.parse('none')).toBeNull();
    expect(mqttUrl.parse('mqtts://broker.example:8883')).toBe('mqtts://broker.example:8883');
    expect(problem(() => mqttUrl.parse('http://broker'))).toMatch(/mqtts:\/\//);
  });

  it('reads a CA file and refuses one without a certificate', async () => {
    const bad = join(dir, 'bad.pem');
    await writeFile(bad, 'hello');
    expect(problem(() => mqttCa.parse(bad))).toBe('the CA file holds no PEM certificate');
    expect(problem(() => mqttCa.parse(join(dir, 'missing.pem')))).toMatch(
      /^cannot read the CA file/,
    );
    expect(mqttCa.parse('')).toBeUndefined();
  });

  it('reads trust roots as a list or as the config’s trust object, and checks each key', async () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const list = join(dir, 'roots.json');
    await writeFile(list, JSON.stringify([{ name: 'Regional root', publicKey: key }]));
    expect(trustRoots.parse(list)).toEqual([{ name: 'Regional root', publicKey: key }]);
    const object = join(dir, 'trust.json');
    await writeFile(
      object,
      JSON.stringify({ roots: [{ name: 'A', publicKey: key }], threshold: 1 }),
    );
    expect(trustRoots.parse(object)).toHaveLength(1);
    const badKey = join(dir, 'bad-roots.json');
    await writeFile(badKey, JSON.stringify([{ name: 'A', publicKey: 'short' }]));
    expect(problem(() => trustRoots.parse(badKey))).toMatch(/base64 key of 32 bytes/);
    const notJson = join(dir, 'roots.txt');
    await writeFile(notJson, 'roots');
    expect(problem(() => trustRoots.parse(notJson))).toBe('the trust roots file is not JSON');
    expect(problem(() => trustThreshold(2).parse('3'))).toBe(
      'the threshold must be a whole number from 1 to 2',
    );
  });
});
