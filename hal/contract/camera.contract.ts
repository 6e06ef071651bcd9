import { afterEach, describe, expect, it } from 'vitest';
import { connectionRefused, probeStreams } from '../../scripts/camera/test-support/media.js';
import type { CameraSource } from '../interfaces.js';

/** How to make and judge one implementation of `CameraSource`. */
export interface CameraContractSubject {
  name: string;
  create(): CameraSource | Promise<CameraSource>;
  expected: { width: number; height: number };
  /**
   * Whether `open` starts the stream (an emulated camera) or only points at one that runs
   * on its own (a network camera), which `close` must then leave alone.
   */
  ownsStream: boolean;
}

const TIMEOUT_MS = 45_000;

/**
 * The contract every camera source keeps: `open` gives a URL that ffprobe reads over
 * RTSP/TCP as H.264 of the expected size, `close` releases what `open` started, and the
 * source opens again after a close.
 */
export function cameraContract(subject: CameraContractSubject): void {
  describe(`CameraSource contract: ${subject.name}`, () => {
    const opened: CameraSource[] = [];

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((camera) => camera.close()));
    });

    async function openCamera(): Promise<{ camera: CameraSource; url: string }> {
      const camera = await subject.create();
      opened.push(camera);
      const stream = await camera.open(AbortSignal.timeout(30_000));
      return { camera, url: stream.url };
    }

    it(
      'opens to an H.264 stream of the expected size',
      async () => {
        const { camera, url } = await openCamera();
        expect(new URL(url).protocol).toBe('rtsp:');
        const video = (await probeStreams(url)).find((s) => s.codec_type === 'video');
        expect(video).toMatchObject({
          codec_name: 'h264',
          width: subject.expected.width,
          height: subject.expected.height,
        });
        expect(['rtsp', 'onvif', 'emulated']).toContain(camera.kind);
      },
      TIMEOUT_MS,
    );

    it(
      'gives a display URL fit for logs: same place, no credentials',
      async () => {
        const { url } = await openCamera();
        const camera = opened[0] as CameraSource;
        const stream = await camera.open(AbortSignal.timeout(30_000));
        expect(stream.url).toBe(url);
        const real = new URL(stream.url);
        const display = new URL(stream.displayUrl);
        expect(display.host).toBe(real.host);
        expect(display.pathname).toBe(real.pathname);
        for (const secret of [real.username, real.password].filter(Boolean)) {
          expect(stream.displayUrl).not.toContain(secret);
        }
      },
      TIMEOUT_MS,
    );

    it(
      subject.ownsStream ? 'releases the stream on close' : 'leaves the camera running on close',
      async () => {
        const { camera, url } = await openCamera();
        const { hostname, port } = new URL(url);
        await camera.close();
        expect(await connectionRefused(hostname, Number(port || 554))).toBe(subject.ownsStream);
      },
      TIMEOUT_MS,
    );

    it(
      'opens again after a close',
      async () => {
        const { camera } = await openCamera();
        await camera.close();
        const stream = await camera.open(AbortSignal.timeout(30_000));
        const video = (await probeStreams(stream.url)).find((s) => s.codec_type === 'video');
        expect(video?.codec_name).toBe('h264');
        expect(video?.width).toBe(subject.expected.width);
      },
      TIMEOUT_MS,
    );

    it('refuses to open with an aborted signal', async () => {
      const camera = await subject.create();
      opened.push(camera);
      const controller = new AbortController();
      controller.abort(new Error('cancelled'));
      await expect(camera.open(controller.signal)).rejects.toThrow('cancelled');
    });
  });
}
