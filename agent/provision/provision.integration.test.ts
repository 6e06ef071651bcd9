import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmulatedCameras,
  startEmulatedCameras,
} from '../../scripts/camera/emulated-camera.js';
import { parseConfig } from '../config/load.js';
import { deviceSecretPath } from '../crypto/device-keys.js';
import { exited, runCli, startAgentProcess, tempDir } from '../test-support/cli.js';
import { freePort } from '../test-support/mosquitto.js';
import { waitFor } from '../test-support/poll.js';
import { indexedSegments, withDatabase } from '../test-support/recording.js';
import { type SecureBroker, startSecureBroker } from '../test-support/secure-broker.js';
import { type OddCamera, startOddCamera } from './test-support/odd-camera.js';
import {
  CAMERA_PASSWORD,
  CAMERA_USER,
  filesUnder,
  loopbackDiscoveryFlags,
  startWebServer,
  writeTrustRoots,
} from './test-support/provision-kit.js';

/**
 * `threshold provision --non-interactive` against the emulated ONVIF camera, found by
 * WS-Discovery on loopback, and a real Mosquitto with TLS and a password; then the agent
 * runs on the config it wrote. Bad input and bad cameras each end in one line that names
 * what to fix, and leave nothing written. No output of any step holds a password.
 */

// Motion in the camera's picture and its ONVIF events, seconds after the camera starts:
// late enough for provisioning (discovery, login, a 4 s probe) and the agent's start.
const MOTION = { start: 60, end: 65 };

let work: { dir: string; cleanup: () => Promise<void> };
let camera: EmulatedCameras;
let broker: SecureBroker;
let rootsFile: string;
const outputs: string[] = [];

beforeAll(async () => {
  work = await tempDir('threshold-provision-');
  camera = await startEmulatedCameras({
    size: { width: 640, height: 360 },
    fps: 15,
    motion: [MOTION],
    onvif: { username: CAMERA_USER, password: CAMERA_PASSWORD, discoveryPort: 0 },
  });
  broker = await startSecureBroker();
  rootsFile = await writeTrustRoots(work.dir);
}, 60_000);

afterAll(async () => {
  await camera?.stop();
  await broker?.stop();
  await work?.cleanup();
});

function device() {
  const onvif = camera.onvif;
  if (!onvif) throw new Error('the emulated camera has no ONVIF service');
  return { ...onvif.devices[0]!, discoveryPort: onvif.discoveryPort };
}

/** A fresh directory for one run: its config path and data directory. */
async function place(name: string) {
  const dir = join(work.dir, name);
  await mkdir(dir);
  return { dir, configPath: join(dir, 'etc', 'config.json'), dataDir: join(dir, 'data') };
}

/** Every flag of a run that should succeed; `overrides` replace flags by name. */
function flags(
  where: { configPath: string; dataDir: string },
  overrides: Record<string, string | null> = {},
) {
  const base: Record<string, string | null> = {
    '--config': where.configPath,
    '--camera-user': CAMERA_USER,
    '--camera-password': CAMERA_PASSWORD,
    '--lat': '52.3702',
    '--lon': '4.8952',
    '--data-dir': where.dataDir,
    '--mqtt-url': broker.url,
    '--mqtt-user': broker.username,
    '--mqtt-password': broker.password,
    '--mqtt-ca': broker.caFile,
    '--trust-roots': rootsFile,
    '--trust-threshold': '2',
    '--probe-seconds': '4',
    '--timeout-seconds': '5',
    '--service-user': 'root',
    ...overrides,
  };
  const args = ['provision', '--non-interactive'];
  for (const [flag, value] of Object.entries(base)) if (value !== null) args.push(flag, value);
  return args;
}

async function provision(args: string[]) {
  const result = await runCli(args, 90_000);
  outputs.push(result.stdout, result.stderr);
  return result;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A refusal: exit 2, one line on stderr naming `what`, no stack, nothing written. */
async function expectRefusal(
  result: Awaited<ReturnType<typeof runCli>>,
  where: { configPath: string; dataDir: string },
  what: RegExp,
) {
  expect(result.code).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^threshold: /);
  expect(lines[0]).toMatch(what);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(await exists(where.configPath)).toBe(false);
  expect(await exists(where.dataDir)).toBe(false);
}

describe('threshold provision --non-interactive', () => {
  it('finds the camera by discovery, checks it and the broker, and writes a config the agent records with', async () => {
    const where = await place('good');
    const { discoveryPort } = device();
    const result = await provision([...flags(where), ...loopbackDiscoveryFlags(discoveryPort)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`127.0.0.1:${device().port}  Threshold emulated camera 1`);
    expect(result.stdout).toMatch(
      /H\.264 .*640x360 15 fps, keyframes every 1 s, no B-frames, no audio/,
    );
    expect(result.stdout).toContain('the broker accepted the connection (TLS, MQTT 5)');
    expect(result.stdout).toMatch(/requests for at most 800 m around the camera/);
    expect(result.stdout).not.toContain('Warning');

    // The config: 0600, what the agent's schema accepts, the camera as discovered.
    expect((await stat(where.configPath)).mode & 0o777).toBe(0o600);
    const text = await readFile(where.configPath, 'utf8');
    const config = parseConfig(text, where.dir);
    expect(config.camera).toEqual({
      source: 'onvif',
      host: '127.0.0.1',
      port: device().port,
      username: CAMERA_USER,
      password: CAMERA_PASSWORD,
      profile: 'profile_main',
    });
    expect(config.motion.source).toBe('onvif');
    expect(config.device.location).toEqual({ lat: 52.3702, lon: 4.8952 });
    expect(config.mqtt).toEqual({
      url: broker.url,
      username: broker.username,
      password: broker.password,
      ca: broker.caFile,
    });
    expect(config.trust?.threshold).toBe(2);
    expect((await stat(where.dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(deviceSecretPath(where.dataDir))).mode & 0o777).toBe(0o600);
    // Nothing else beside the config: no temp file, no copy.
    expect((await filesUnder(join(where.dir, 'etc'))).map((f) => f.path)).toEqual([
      where.configPath,
    ]);
    // The broker saw the check connect, and nothing published.
    expect(broker.broker.publishes()).toEqual([]);

    // The agent records with it, and its ONVIF motion lands within 2 s of the script.
    const agent = startAgentProcess(where.configPath);
    try {
      await waitFor(
        async () => (await indexedSegments(where.dataDir).catch(() => [])).length >= 2,
        {
          timeoutMs: 45_000,
          what: 'recorded segments',
        },
      );
      await waitFor(() => agent.log().includes('ONVIF events subscribed'), {
        timeoutMs: 30_000,
        what: 'the ONVIF event subscription',
      });
      // Otherwise the machine was too slow for the script, and the check below would mislead.
      expect(Date.now(), 'subscribed before the scripted motion').toBeLessThan(
        camera.startedAt + MOTION.start * 1000 - 2000,
      );
      const events = await waitFor(
        async () => {
          const rows = await withDatabase(where.dataDir, (db) =>
            db.all<{ start_ms: number; end_ms: number | null; source: string }>(
              'SELECT start_ms, end_ms, source FROM motion_events ORDER BY start_ms',
            ),
          ).catch(() => []);
          return rows.some((row) => row.end_ms !== null) && rows;
        },
        { timeoutMs: 90_000, intervalMs: 500, what: 'a closed ONVIF motion event' },
      );
      const event = events[0]!;
      expect(event.source).toBe('onvif');
      expect(
        Math.abs(event.start_ms - (camera.startedAt + MOTION.start * 1000)),
      ).toBeLessThanOrEqual(2000);
      expect(
        Math.abs((event.end_ms ?? 0) - (camera.startedAt + MOTION.end * 1000)),
      ).toBeLessThanOrEqual(2000);
    } finally {
      agent.child.kill('SIGTERM');
      await exited(agent.child);
      outputs.push(agent.log());
    }

    // A forced re-run replaces the config and keeps the device secret and the footage.
    const secret = await readFile(deviceSecretPath(where.dataDir));
    const footage = (await indexedSegments(where.dataDir)).length;
    const again = await provision([
      ...flags(where, { '--lat': '48.8566', '--lon': '2.3522' }),
      '--camera-host',
      '127.0.0.1',
      '--camera-port',
      String(device().port),
      '--force',
    ]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('device secret kept');
    expect(
      parseConfig(await readFile(where.configPath, 'utf8'), where.dir).device.location,
    ).toEqual({
      lat: 48.8566,
      lon: 2.3522,
    });
    expect(await readFile(deviceSecretPath(where.dataDir))).toEqual(secret);
    expect((await indexedSegments(where.dataDir)).length).toBe(footage);
  }, 240_000);
});

describe('bad input and bad cameras', () => {
  let odd: OddCamera[] = [];
  afterAll(async () => {
    await Promise.all(odd.map((c) => c.stop()));
    odd = [];
  });

  const direct = () => ['--camera-host', '127.0.0.1', '--camera-port', String(device().port)];

  it('a wrong camera password', async () => {
    const where = await place('wrong-password');
    const result = await provision([
      ...flags(where, { '--camera-password': 'not-the-one-71' }),
      ...direct(),
    ]);
    await expectRefusal(
      result,
      where,
      /refused the user name or password: check --camera-user and --camera-password/,
    );
    expect(result.stdout + result.stderr).not.toContain('not-the-one-71');
  }, 60_000);

  it('an unreachable camera', async () => {
    const where = await place('unreachable');
    const port = await freePort();
    const result = await provision([
      ...flags(where),
      '--camera-host',
      '127.0.0.1',
      '--camera-port',
      String(port),
    ]);
    await expectRefusal(
      result,
      where,
      new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}: check --camera-host and --camera-port`),
    );
  }, 60_000);

  it('a host that is not an ONVIF camera', async () => {
    const where = await place('not-onvif');
    const web = await startWebServer();
    try {
      const result = await provision([
        ...flags(where),
        '--camera-host',
        '127.0.0.1',
        '--camera-port',
        String(web.port),
      ]);
      await expectRefusal(
        result,
        where,
        /does not answer as an ONVIF camera .*: check --camera-host and --camera-port/,
      );
    } finally {
      await web.stop();
    }
  }, 60_000);

  it('no camera answering discovery', async () => {
    const where = await place('no-camera');
    const result = await provision([...flags(where), ...loopbackDiscoveryFlags(await freePort())]);
    await expectRefusal(
      result,
      where,
      /no ONVIF camera answered discovery: give its address with --camera-host/,
    );
  }, 60_000);

  it('bad coordinates, before anything slow', async () => {
    const where = await place('bad-lat');
    const started = Date.now();
    const result = await provision([...flags(where, { '--lat': '91' }), ...direct()]);
    await expectRefusal(result, where, /--lat: the latitude must be from -90 to 90$/);
    expect(result.stdout).not.toContain('Connecting');
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it('a missing flag', async () => {
    const where = await place('missing');
    const result = await provision([...flags(where, { '--lon': null }), ...direct()]);
    await expectRefusal(result, where, /missing --lon: Longitude of the camera/);
    expect(result.stdout).not.toContain('Connecting');
  }, 60_000);

  it('a wrong broker password', async () => {
    const where = await place('broker-password');
    const result = await provision([
      ...flags(where, { '--mqtt-password': 'broker-wrong-55' }),
      ...direct(),
    ]);
    await expectRefusal(
      result,
      where,
      /refused the user name or password: check --mqtt-user and --mqtt-password/,
    );
    expect(result.stdout + result.stderr).not.toContain('broker-wrong-55');
  }, 60_000);

  it('an existing config without --force', async () => {
    const where = await place('existing');
    await mkdir(join(where.dir, 'etc'));
    await writeFile(where.configPath, '{"mine": true}\n', { mode: 0o600 });
    const result = await provision([...flags(where), ...direct()]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `threshold: ${where.configPath} exists; run with --force to replace it (the device secret and footage are kept)`,
    );
    expect(await readFile(where.configPath, 'utf8')).toBe('{"mine": true}\n');
    expect(await exists(where.dataDir)).toBe(false);
  }, 60_000);

  for (const bad of [
    {
      name: 'B-frames',
      settings: { bframes: 2, keyframeFrames: 25 },
      warning: /Warning: the stream uses B-frames.*\n\s+On the camera: turn off B-frames/,
    },
    {
      name: 'a 10 s keyframe interval',
      settings: { keyframeFrames: 250 },
      probeSeconds: '8',
      warning:
        /Warning: keyframes come more than \d+(\.\d)? s apart \(over 4 s\).*\n\s+On the camera: set the keyframe \(I-frame\) interval or GOP to 2 s/,
    },
  ]) {
    it(`a camera with ${bad.name} is provisioned, with a warning saying what to change`, async () => {
      const where = await place(`odd-${odd.length}`);
      const stream = await startOddCamera(bad.settings);
      odd.push(stream);
      camera.onvif!.setStreamUri(1, stream.url);
      try {
        const result = await provision([
          ...flags(where, { '--probe-seconds': bad.probeSeconds ?? '4', '--mqtt-url': 'none' }),
          ...direct(),
        ]);
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        expect(result.stdout).toMatch(bad.warning);
        expect(await exists(where.configPath)).toBe(true);
      } finally {
        camera.onvif!.setStreamUri(1, camera.urls[0]!);
      }
    }, 90_000);
  }
});

describe('secrets', () => {
  it('no output of any run above holds the camera or broker password', () => {
    // Not vacuous: the runs above did print, and the scan finds a password where one is.
    expect(outputs.join('').length).toBeGreaterThan(1000);
    expect(`x${CAMERA_PASSWORD}x`).toContain(CAMERA_PASSWORD);
    for (const output of outputs) {
      expect(output).not.toContain(CAMERA_PASSWORD);
      expect(output).not.toContain(broker.password);
    }
  });
});
