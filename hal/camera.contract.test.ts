import { afterAll, beforeAll } from 'vitest';
import { type EmulatedCameras, startEmulatedCameras } from '../scripts/camera/emulated-camera.js';
import { cameraContract } from './contract/camera.contract.js';
import { EmulatedCamera } from './emulated/camera.js';
import { RtspCamera } from './linux/rtsp-camera.js';

// The network camera RtspCamera points at: an emulated one this file runs.
let networkCamera: EmulatedCameras | undefined;

beforeAll(async () => {
  networkCamera = await startEmulatedCameras({ size: { width: 1280, height: 720 } });
});

afterAll(async () => {
  await networkCamera?.stop();
});

cameraContract({
  name: 'RtspCamera',
  create: () => {
    if (!networkCamera) throw new Error('the network camera did not start');
    // Credentials in the URL, as a real camera's often are: the display URL must drop them.
    return new RtspCamera({
      url: `rtsp://viewer:s3cret-pass@127.0.0.1:${networkCamera.port}/cam1`,
    });
  },
  expected: { width: 1280, height: 720 },
  ownsStream: false,
});

cameraContract({
  name: 'EmulatedCamera',
  create: () =>
    new EmulatedCamera({
      settings: {
        width: 1280,
        height: 720,
        fps: 25,
        keyframeSeconds: 1,
        audio: false,
        motion: [],
      },
    }),
  expected: { width: 1280, height: 720 },
  ownsStream: true,
});
