import type { Cam } from 'onvif';
import onvif from 'onvif';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverOnvif, OnvifError, OnvifSession } from '../../../hal/linux/onvif/client.js';
import { parsePullMessagesResponse } from '../../../hal/linux/onvif/notifications.js';
import { type EmulatedOnvif, startEmulatedOnvif } from './emulated-onvif.js';

const PASSWORD = 'emu-Pa55-word';
const RTSP = 'rtsp://127.0.0.1:8554/cam1';
const running: EmulatedOnvif[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.stop()));
});

async function start(motion: { start: number; end: number }[] = [], startedAt = Date.now()) {
  const emulator = await startEmulatedOnvif({
    host: '127.0.0.1',
    rtspUrls: [RTSP, 'rtsp://127.0.0.1:8554/cam2'],
    startedAt,
    motion,
    fps: 25,
    password: PASSWORD,
  });
  running.push(emulator);
  return emulator;
}

/** The real `onvif` client library, connected; its callbacks as promises. */
async function libraryCam(port: number, password = PASSWORD): Promise<Cam> {
  return new Promise((resolve, reject) => {
    const cam: Cam = new onvif.Cam(
      { hostname: '127.0.0.1', port, username: 'admin', password, timeout: 5000 },
      (err) => (err ? reject(err) : resolve(cam)),
    );
  });
}

function promised<T>(run: (done: (err: Error | null, data?: T, xml?: string) => void) => void) {
  return new Promise<{ data: T; xml: string }>((resolve, reject) =>
    run((err, data, xml) => (err ? reject(err) : resolve({ data: data as T, xml: xml ?? '' }))),
  );
}

describe('emulated ONVIF camera, driven by the onvif client library', () => {
  it('answers the device and media operations', async () => {
    const emulator = await start();
    const device = emulator.devices[0]!;
    const cam = await libraryCam(device.port);
    expect(cam.uri?.media?.port).toBe(String(device.port));
    expect(cam.uri?.events?.pathname).toBe('/onvif/events_service');
    expect(cam.profiles?.[0]?.videoEncoderConfiguration).toMatchObject({
      encoding: 'H264',
      resolution: { width: 1920, height: 1080 },
    });
    expect(cam.activeSource?.profileToken).toBe('profile_main');
    const info = await promised<{ serialNumber?: string }>((d) => cam.getDeviceInformation(d));
    expect(info.data.serialNumber).toBe('EMU-1');
    const stream = await promised<{ uri: string }>((d) =>
      cam.getStreamUri({ protocol: 'RTSP' }, d),
    );
    expect(stream.data.uri).toBe(RTSP);
    emulator.setStreamUri(1, 'rtsp://127.0.0.1:9554/moved');
    const moved = await promised<{ uri: string }>((d) => cam.getStreamUri({ protocol: 'RTSP' }, d));
    expect(moved.data.uri).toBe('rtsp://127.0.0.1:9554/moved');
    const second = await libraryCam(emulator.devices[1]!.port);
    expect(second.profiles?.[0]?.videoEncoderConfiguration?.resolution).toMatchObject({
      width: 1280,
      height: 720,
    });
  });

  it('runs a PullPoint subscription: create, pull (long poll), renew, unsubscribe', async () => {
    const emulator = await start([{ start: 1.5, end: 3 }]);
    const cam = await libraryCam(emulator.devices[0]!.port);
    await promised((d) => cam.createPullPointSubscription(d));
    expect(emulator.subscriptions(1)).toBe(1);
    const initial = await promised((d) => cam.pullMessages({}, d));
    const first = await parsePullMessagesResponse(initial.xml);
    expect(first.map((m) => [m.topic, m.operation, m.data])).toEqual([
      ['RuleEngine/CellMotionDetector/Motion', 'Initialized', { IsMotion: 'false' }],
      ['VideoSource/MotionAlarm', 'Initialized', { State: 'false' }],
    ]);
    // The next pull waits until the scripted motion starts, then answers at once.
    const asked = Date.now();
    const changed = await parsePullMessagesResponse(
      (await promised((d) => cam.pullMessages({}, d))).xml,
    );
    expect(Date.now() - asked).toBeGreaterThan(500);
    expect(changed.map((m) => m.data)).toEqual([{ IsMotion: 'true' }, { State: 'true' }]);
    const renewed = await promised<{ terminationTime: Date }>((d) => cam.renew({}, d));
    expect(renewed.data.terminationTime.getTime()).toBeGreaterThan(Date.now() + 60_000);
    await promised((d) => cam.unsubscribe(d));
    expect(emulator.subscriptions(1)).toBe(0);
  });

  it('refuses a wrong password (WS-Security digest) and names nothing secret', async () => {
    const emulator = await start();
    const port = emulator.devices[0]!.port;
    const cam = await libraryCam(port, 'not-the-password');
    // The library connects (capabilities need no login) but gets no profiles.
    expect(cam.profiles ?? []).toEqual([]);
    await expect(
      promised((d) => cam.getStreamUri({ profileToken: 'profile_main' }, d)),
    ).rejects.toThrow(/not Authorized/i);
    const refused = await OnvifSession.connect({
      host: '127.0.0.1',
      port,
      username: 'admin',
      password: 'not-the-password',
      timeoutMs: 5000,
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OnvifError);
    expect((refused as OnvifError).code).toBe('onvif_auth');
    expect((refused as OnvifError).message).not.toContain('not-the-password');
  });

  it('refuses a replayed token', async () => {
    const emulator = await start();
    const cam = await libraryCam(emulator.devices[0]!.port);
    const sent: string[] = [];
    cam.on('rawRequest', (body: string) => sent.push(body));
    await promised((d) => cam.getDeviceInformation(d));
    const replay = await fetch(
      `http://127.0.0.1:${emulator.devices[0]!.port}/onvif/device_service`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/soap+xml' },
        body: sent[0],
      },
    );
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('ter:NotAuthorized');
  });

  it('faults subscriptions while the fault switch is on', async () => {
    const emulator = await start();
    const cam = await libraryCam(emulator.devices[0]!.port);
    await promised((d) => cam.createPullPointSubscription(d));
    await promised((d) => cam.pullMessages({}, d));
    const pending = promised((d) => cam.pullMessages({}, d));
    emulator.setFaulting(true);
    await expect(pending).rejects.toThrow(/SOAP Fault/);
    await expect(promised((d) => cam.createPullPointSubscription(d))).rejects.toThrow(/SOAP Fault/);
    emulator.setFaulting(false);
    // The old subscription is gone for good; a new one works.
    await expect(promised((d) => cam.renew({}, d))).rejects.toThrow(/SOAP Fault/);
    await promised((d) => cam.createPullPointSubscription(d));
    const fresh = await parsePullMessagesResponse(
      (await promised((d) => cam.pullMessages({}, d))).xml,
    );
    expect(fresh[0]?.operation).toBe('Initialized');
  });
});

describe('WS-Discovery on loopback', () => {
  it('answers a multicast Probe on the loopback interface, one match per camera', async () => {
    const emulator = await start();
    const found = await discoverOnvif({
      timeoutMs: 1500,
      port: emulator.discoveryPort,
      interfaceAddress: '127.0.0.1',
    });
    expect(found.map((camera) => camera.port).sort()).toEqual(
      emulator.devices.map((device) => device.port).sort(),
    );
    expect(found[0]).toMatchObject({ address: '127.0.0.1', hardware: 'Emulated Doorbell' });
    expect(found.map((camera) => camera.name).sort()).toEqual([
      'Threshold emulated camera 1',
      'Threshold emulated camera 2',
    ]);
  });

  it('answers a directed (unicast) Probe, and two emulators on their own ports stay apart', async () => {
    const [one, two] = [await start(), await start()];
    const direct = await discoverOnvif({
      timeoutMs: 1000,
      port: one.discoveryPort,
      address: '127.0.0.1',
    });
    expect(direct.map((camera) => camera.xaddr).sort()).toEqual(
      one.devices.map((device) => device.xaddr).sort(),
    );
    const other = await discoverOnvif({
      timeoutMs: 1000,
      port: two.discoveryPort,
      interfaceAddress: '127.0.0.1',
    });
    expect(other.map((camera) => camera.xaddr).sort()).toEqual(
      two.devices.map((device) => device.xaddr).sort(),
    );
  });

  it('finds nothing where no camera listens, and stops when aborted', async () => {
    const emulator = await start();
    const port = emulator.discoveryPort;
    await emulator.stop();
    expect(await discoverOnvif({ timeoutMs: 500, port, interfaceAddress: '127.0.0.1' })).toEqual(
      [],
    );
    const abort = new AbortController();
    const probing = discoverOnvif({
      timeoutMs: 10_000,
      port,
      interfaceAddress: '127.0.0.1',
      signal: abort.signal,
    });
    abort.abort(new Error('stop probing'));
    await expect(probing).rejects.toThrow('stop probing');
  });
});
