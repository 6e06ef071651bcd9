import { afterEach, describe, expect, it } from 'vitest';
import {
  type EmulatedOnvif,
  startEmulatedOnvif,
} from '../../scripts/camera/onvif/emulated-onvif.js';
import { OnvifError, withCredentials } from './onvif/client.js';
import { OnvifCamera } from './onvif-camera.js';

const PASSWORD = 'p@ss:w/rd%Z';
const RTSP = 'rtsp://127.0.0.1:8554/cam1';
let emulator: EmulatedOnvif | undefined;

afterEach(async () => {
  await emulator?.stop();
  emulator = undefined;
});

async function camera(settings: { password?: string; profile?: string; port?: number } = {}) {
  emulator ??= await startEmulatedOnvif({
    host: '127.0.0.1',
    rtspUrls: [RTSP],
    startedAt: Date.now(),
    motion: [],
    fps: 25,
    username: 'viewer',
    password: PASSWORD,
  });
  return new OnvifCamera({
    settings: {
      host: '127.0.0.1',
      port: settings.port ?? emulator.devices[0]!.port,
      username: 'viewer',
      password: settings.password ?? PASSWORD,
      ...(settings.profile ? { profile: settings.profile } : {}),
    },
    timeoutMs: 5000,
  });
}

async function failure(promise: Promise<unknown>): Promise<OnvifError> {
  const err = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OnvifError);
  return err as OnvifError;
}

describe('OnvifCamera', () => {
  it('gives ffmpeg the stream with the credentials, and logs a URL without them', async () => {
    const stream = await (await camera()).open(AbortSignal.timeout(10_000));
    const url = new URL(stream.url);
    // Reserved characters in the password survive, percent-encoded (RFC 3986 §3.2.1).
    expect(decodeURIComponent(url.password)).toBe(PASSWORD);
    expect(decodeURIComponent(url.username)).toBe('viewer');
    expect(`${url.host}${url.pathname}`).toBe('127.0.0.1:8554/cam1');
    expect(stream.displayUrl).toBe(RTSP);
  });

  it('picks a profile by token or by name, and names the choices when none matches', async () => {
    expect(
      (await (await camera({ profile: 'mainStream' })).open(AbortSignal.timeout(10_000)))
        .displayUrl,
    ).toBe(RTSP);
    expect(
      (await (await camera({ profile: 'profile_main' })).open(AbortSignal.timeout(10_000)))
        .displayUrl,
    ).toBe(RTSP);
    const missing = await failure(
      (await camera({ profile: 'sub' })).open(AbortSignal.timeout(10_000)),
    );
    expect(missing.code).toBe('onvif_no_stream');
    expect(missing.message).toContain('mainStream');
  });

  it('follows the stream address the camera gives at each open', async () => {
    const source = await camera();
    expect((await source.open(AbortSignal.timeout(10_000))).displayUrl).toBe(RTSP);
    emulator!.setStreamUri(1, 'rtsp://127.0.0.1:9554/moved');
    expect((await source.open(AbortSignal.timeout(10_000))).displayUrl).toBe(
      'rtsp://127.0.0.1:9554/moved',
    );
  });

  it('fails with a typed error that holds no credential', async () => {
    const wrong = 'Totally-Wrong-42';
    const refused = await failure(
      (await camera({ password: wrong })).open(AbortSignal.timeout(10_000)),
    );
    expect(refused.code).toBe('onvif_auth');
    const gone = await failure((await camera({ port: 1 })).open(AbortSignal.timeout(10_000)));
    expect(gone.code).toBe('onvif_unreachable');
    for (const err of [refused, gone]) {
      expect(`${err.message} ${err.stack}`).not.toContain(wrong);
      expect(`${err.message} ${err.stack}`).not.toContain(PASSWORD);
      expect(err.message).not.toContain('viewer');
    }
  });

  it('withCredentials leaves an address without credentials otherwise unchanged', () => {
    expect(withCredentials('rtsp://10.0.0.2:554/s?x=1', 'a', 'b')).toBe(
      'rtsp://a:b@10.0.0.2:554/s?x=1',
    );
  });
});
