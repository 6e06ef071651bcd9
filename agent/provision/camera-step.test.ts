import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ThresholdError } from '../errors.js';
import { FlagAnswers, PromptAnswers } from './answers.js';
import {
  bestProfile,
  type CameraProfileInfo,
  type CameraStepOptions,
  cameraStep,
  type FoundCamera,
  type OnvifAccess,
} from './camera-step.js';
import { Prompter } from './prompter.js';
import type { StreamReport } from './stream-probe.js';

/**
 * The camera step's decisions, with a hand-written fake of the ONVIF client (the real one
 * runs against the emulated camera in provision.integration.test.ts).
 */

const PROFILES: CameraProfileInfo[] = [
  { token: 'sub', name: 'Sub', encoding: 'H264', width: 640, height: 360 },
  { token: 'jpeg', name: 'Snapshot', encoding: 'JPEG', width: 3840, height: 2160 },
  { token: 'main', name: 'Main', encoding: 'H264', width: 1920, height: 1080 },
];

const GOOD: StreamReport = {
  video: {
    codec: 'h264',
    profile: 'Main',
    width: 1920,
    height: 1080,
    fps: 25,
    bFrames: false,
    keyframeInterval: { seconds: 1, exact: true },
  },
  audio: null,
  sampledSeconds: 4,
};

/** A fake camera network: `cameras` answer discovery; `accept` says who may log in where. */
function fakeOnvif(options: {
  cameras?: FoundCamera[];
  accept: (
    host: string,
    port: number,
    password: string,
  ) => 'ok' | 'onvif_auth' | 'onvif_unreachable';
}) {
  const connects: string[] = [];
  const onvif: OnvifAccess = {
    discover: async () => options.cameras ?? [],
    connect: async ({ host, port, password }) => {
      connects.push(`${host}:${port}`);
      const outcome = options.accept(host, port, password);
      if (outcome !== 'ok') throw new ThresholdError(outcome, `${outcome} at ${host}:${port}`);
      return {
        profiles: PROFILES,
        streamUri: async (token) => `rtsp://${host}:554/${token}`,
        close: async () => undefined,
      };
    },
    withCredentials: (uri, user, pass) => uri.replace('rtsp://', `rtsp://${user}:${pass}@`),
  };
  return { onvif, connects };
}

const OPTIONS: CameraStepOptions = {
  discover: false,
  discoveryTimeoutMs: 100,
  connectTimeoutMs: 100,
  probeSeconds: 1,
};

const probed: string[] = [];
const probe = async (url: string) => {
  probed.push(url);
  return GOOD;
};

describe('bestProfile', () => {
  it('prefers the largest H.264 profile over a larger one of another codec', () => {
    expect(bestProfile(PROFILES).token).toBe('main');
    expect(bestProfile([{ token: 'only', name: 'x', encoding: '' }]).token).toBe('only');
  });
});

describe('cameraStep without a terminal', () => {
  it('uses the one camera discovery found, its port, and the largest H.264 profile', async () => {
    const { onvif, connects } = fakeOnvif({
      cameras: [
        { address: '192.0.2.7', port: 8080, xaddr: 'http://192.0.2.7:8080/onvif/device_service' },
      ],
      accept: () => 'ok',
    });
    const answers = new FlagAnswers(new Map([['--camera-password', 'pw']]), () => undefined, {});
    const result = await cameraStep({ onvif, probe }, answers, { ...OPTIONS, discover: true });
    expect(connects).toEqual(['192.0.2.7:8080']);
    expect(result.camera).toEqual({
      source: 'onvif',
      host: '192.0.2.7',
      port: 8080,
      username: 'admin',
      password: 'pw',
      profile: 'main',
    });
    expect(probed.at(-1)).toBe('rtsp://admin:pw@192.0.2.7:554/main');
  });

  it('refuses to guess among several cameras', async () => {
    const camera = (n: number): FoundCamera => ({ address: `192.0.2.${n}`, port: 80, xaddr: '' });
    const { onvif } = fakeOnvif({ cameras: [camera(1), camera(2)], accept: () => 'ok' });
    const answers = new FlagAnswers(new Map([['--camera-password', 'pw']]), () => undefined, {});
    await expect(
      cameraStep({ onvif, probe }, answers, { ...OPTIONS, discover: true }),
    ).rejects.toThrow('2 ONVIF cameras answered discovery: choose one with --camera-host');
  });
});

describe('cameraStep at a terminal', () => {
  it('asks again for the host after an unreachable one, and for the password after a refusal', async () => {
    const { onvif, connects } = fakeOnvif({
      accept: (host, _port, password) =>
        host !== '192.0.2.9' ? 'onvif_unreachable' : password === 'right' ? 'ok' : 'onvif_auth',
    });
    const input = new PassThrough();
    const output = new PassThrough();
    let screen = '';
    output.setEncoding('utf8').on('data', (c: string) => {
      screen += c;
    });
    const prompter = new Prompter({ input, output, terminal: false });
    // Typed ahead, in the order the questions come.
    for (const line of [
      '192.0.2.8',
      '',
      'admin',
      'wrong',
      '192.0.2.9',
      '',
      'admin',
      'wrong',
      'admin',
      'right',
      '2',
    ]) {
      input.write(`${line}\n`);
    }
    const result = await cameraStep(
      { onvif, probe },
      new PromptAnswers(prompter, new Map(), {}),
      OPTIONS,
    );
    prompter.close();
    expect(connects).toEqual(['192.0.2.8:80', '192.0.2.9:80', '192.0.2.9:80', '192.0.2.9:80']);
    expect(screen).toContain('✗ cannot reach 192.0.2.8:80');
    expect(screen).toContain('✗ the camera at 192.0.2.9:80 refused the user name or password');
    expect(result.camera).toMatchObject({ host: '192.0.2.9', password: 'right', profile: 'jpeg' });
  });
});
