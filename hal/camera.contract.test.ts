import { afterAll, beforeAll } from 'vitest';
import { type EmulatedCameras, startEmulatedCameras } from '../scripts/camera/emulated-camera.js';
import { cameraContract } from './contract/camera.contract.js';
import { EmulatedCamera } from './emulated/camera.js';
import { OnvifCamera } from './linux/onvif-camera.js';
import { RtspCamera } from './linux/rtsp-camera.js';

// The network camera RtspCamera and OnvifCamera point at: an emulated one this file runs,
// with its ONVIF device service.
const ONVIF_PASSWORD = 'contract-Secret-9';
let networkCamera: EmulatedCameras | undefined;

beforeAll(async () => {
  networkCamera = await startEmulatedCameras({
    size: { width: 1280, height: 720 },
    onvif: { username: 'operator', password: ONVIF_PASSWORD },
  });
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
  name: 'OnvifCamera',
  create: () => {
    const device = networkCamera?.onvif?.devices[0];
    if (!device) throw new Error('the network camera did not start');
    return new OnvifCamera({
      settings: {
        host: device.host,
        port: device.port,
        username: 'operator',
        password: ONVIF_PASSWORD,
      },
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
