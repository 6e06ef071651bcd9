import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOnvif, OnvifSession, withCredentials } from '../../hal/linux/onvif/client.js';
import {
  type EmulatedCameras,
  startEmulatedCameras,
} from '../../scripts/camera/emulated-camera.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { deviceSecretPath } from '../crypto/device-keys.js';
import { Database } from '../db/database.js';
import { agentPaths } from '../db/open.js';
import { checkBrokerConnection } from '../mqtt/connection-check.js';
import { probeStream } from '../provision/stream-probe.js';
import { accountIds } from '../provision/system-user.js';
import { type OddCamera, startOddCamera } from '../provision/test-support/odd-camera.js';
import {
  CAMERA_PASSWORD,
  CAMERA_USER,
  writeTrustRoots,
} from '../provision/test-support/provision-kit.js';
import { prepareDataDir, writeConfigFile } from '../provision/write-config.js';
import { cliCommand, ROOT, tempDir } from '../test-support/cli.js';
import { type SecureBroker, startSecureBroker } from '../test-support/secure-broker.js';
import { type CheckId, type CheckResult, runChecks } from './check.js';
import { readClockSync } from './checks/clock.js';
import { type DoctorDeps, doctorChecks } from './doctor.js';
import { readTimeFloor } from './time-floor.js';

/**
 * `threshold doctor` on a healthy device (an emulated ONVIF camera, a TLS broker with a
 * password, a provisioned data directory), then one broken thing per check: each is named
 * with its fix. The time daemon is the one part faked: this machine runs none, so a
 * `timedatectl` on PATH answers for systemd.
 */

let work: { dir: string; cleanup: () => Promise<void> };
let camera: EmulatedCameras;
let broker: SecureBroker;
let healthy: { configPath: string; config: Config };
/** PATH with a timedatectl that says the clock is synchronised (or not). */
let syncedPath: string;
let unsyncedPath: string;
let odd: OddCamera | undefined;

async function fakeTool(dir: string, name: string, script: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, 0o755);
  return dir;
}

beforeAll(async () => {
  work = await tempDir('threshold-doctor-');
  camera = await startEmulatedCameras({
    size: { width: 640, height: 360 },
    fps: 15,
    onvif: { username: CAMERA_USER, password: CAMERA_PASSWORD },
  });
  broker = await startSecureBroker();
  const device = camera.onvif!.devices[0]!;
  const dataDir = join(work.dir, 'data');
  const configPath = join(work.dir, 'etc', 'config.json');
  const raw = {
    dataDir,
    device: { location: { lat: 52.37, lon: 4.89 } },
    camera: {
      source: 'onvif',
      host: device.host,
      port: device.port,
      username: CAMERA_USER,
      password: CAMERA_PASSWORD,
      profile: 'profile_main',
    },
    motion: { source: 'onvif' },
    retention: { minFreeBytes: 1024 * 1024 },
    mqtt: {
      url: broker.url,
      username: broker.username,
      password: broker.password,
      ca: broker.caFile,
    },
    trust: {
      roots: JSON.parse(await readFile(await writeTrustRoots(work.dir, 1), 'utf8')),
      threshold: 1,
    },
  };
  await prepareDataDir(dataDir);
  await writeConfigFile(configPath, raw);
  healthy = { configPath, config: parseConfig(JSON.stringify(raw), work.dir) };
  syncedPath = `${await fakeTool(join(work.dir, 'synced'), 'timedatectl', 'echo yes')}:${process.env.PATH}`;
  unsyncedPath = `${await fakeTool(join(work.dir, 'unsynced'), 'timedatectl', 'echo no')}:${process.env.PATH}`;
}, 60_000);

afterAll(async () => {
  await odd?.stop();
  await camera?.stop();
  await broker?.stop();
  await work?.cleanup();
});

function deps(overrides: Partial<DoctorDeps> = {}, path = syncedPath): DoctorDeps {
  return {
    onvif: {
      discover: (o) => discoverOnvif(o),
      connect: (o) => OnvifSession.connect(o),
      withCredentials,
    },
    probe: (url, o) => probeStream(url, o),
    probeSeconds: 3,
    connectTimeoutMs: 5000,
    checkBroker: checkBrokerConnection,
    readSync: (signal) => readClockSync(signal, { ...process.env, PATH: path }),
    readFloor: async () => null,
    ...overrides,
  };
}

/** Runs the one check `id` against `config` (the healthy one, changed by the caller). */
async function check(
  id: CheckId,
  options: {
    config?: Config;
    configPath?: string;
    deps?: DoctorDeps;
    account?: { name: string; uid: number; gid: number };
  } = {},
): Promise<CheckResult> {
  const checks = doctorChecks(
    {
      config: options.config ?? healthy.config,
      configPath: options.configPath ?? healthy.configPath,
      account: options.account ?? (await accountIds()),
    },
    options.deps ?? deps(),
  ).filter((c) => c.id === id);
  const report = await runChecks(checks, { timeoutMs: 30_000 });
  const result = report.checks[0];
  if (!result) throw new Error(`no check ${id}`);
  return result;
}

const withConfig = (change: (c: Config) => Config) => change(structuredClone(healthy.config));

function doctorCli(
  args: string[],
  path: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [node, argv] = cliCommand(['doctor', ...args]);
  return new Promise((resolve, reject) => {
    const child = spawn(node, argv, { cwd: ROOT, env: { ...process.env, PATH: path } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('threshold doctor', () => {
  it('passes on a healthy device, every check named (--json)', async () => {
    const result = await doctorCli(
      ['--config', healthy.configPath, '--user', 'root', '--json', '--probe-seconds', '3'],
      syncedPath,
    );
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['media_tools', 'ok'],
      ['data_dir', 'ok'],
      ['free_space', 'ok'],
      ['file_modes', 'ok'],
      ['camera', 'ok'],
      ['broker', 'ok'],
      ['clock', 'ok'],
      ['ui', 'ok'],
    ]);
    expect(report.ok).toBe(true);
    expect(result.code).toBe(0);
    expect(report.checks.find((c) => c.id === 'broker')?.detail).toContain('TLS, MQTT 5');
    expect(result.stdout).not.toContain(CAMERA_PASSWORD);
    expect(result.stdout).not.toContain(broker.password);
  }, 120_000);

  it('exits 1 and prints each problem with its fix', async () => {
    await chmod(healthy.configPath, 0o644);
    try {
      const result = await doctorCli(
        ['--config', healthy.configPath, '--user', 'root', '--probe-seconds', '3'],
        syncedPath,
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /FAIL {2}config and key files +.* is mode 0644 \(others may read it\)/,
      );
      expect(result.stdout).toContain(`fix: chmod 600 ${healthy.configPath}`);
      expect(result.stdout.trim()).toMatch(/1 check failed$/);
      expect(result.stdout + result.stderr).not.toContain(CAMERA_PASSWORD);
    } finally {
      await chmod(healthy.configPath, 0o600);
    }
  }, 120_000);
});

describe('each check names its problem', () => {
  it('media tools: missing, or too old', async () => {
    const missing = await check('media_tools', {
      config: withConfig((c) => ({
        ...c,
        ffmpeg: { ...c.ffmpeg, ffmpegPath: join(work.dir, 'no-ffmpeg') },
      })),
    });
    expect(missing).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/no-ffmpeg cannot be run/),
    });
    expect(missing.fix).toMatch(/apt-get install ffmpeg/);
    const oldDir = await fakeTool(
      join(work.dir, 'old'),
      'ffprobe',
      'echo "ffprobe version 4.3.6 Copyright"',
    );
    const old = await check('media_tools', {
      config: withConfig((c) => ({
        ...c,
        ffmpeg: { ...c.ffmpeg, ffprobePath: join(oldDir, 'ffprobe') },
      })),
    });
    expect(old).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/version 4\.3, older than 4\.4/),
    });
  });

  it('data directory: open to others, or not the agent’s', async () => {
    await chmod(healthy.config.dataDir, 0o755);
    try {
      const open = await check('data_dir');
      expect(open).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/mode 0755, not 0700/),
      });
      expect(open.fix).toBe(`chmod 700 ${healthy.config.dataDir}`);
    } finally {
      await chmod(healthy.config.dataDir, 0o700);
    }
    const nobody = await check('data_dir', { account: { name: 'nobody', uid: 65534, gid: 65534 } });
    expect(nobody.status).toBe('fail');
    expect(nobody.detail).toMatch(/owned by uid \d+, not nobody \(65534\)/);
    expect(nobody.fix).toBe(`chown -R nobody: ${healthy.config.dataDir}`);
  });

  it('free space: below the reserve', async () => {
    const result = await check('free_space', {
      config: withConfig((c) => ({ ...c, retention: { ...c.retention, minFreeBytes: 2 ** 52 } })),
    });
    expect(result).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/free for .* reserve/),
    });
    expect(result.fix).toMatch(/retention\.minFreeBytes/);
  });

  it('config and key files: a key others may read', async () => {
    const secret = deviceSecretPath(healthy.config.dataDir);
    await chmod(secret, 0o640);
    try {
      const result = await check('file_modes');
      expect(result).toMatchObject({
        status: 'fail',
        detail: `${secret} is mode 0640 (others may read it)`,
      });
      expect(result.fix).toBe(`chmod 600 ${secret}`);
    } finally {
      await chmod(secret, 0o600);
    }
  });

  it('camera: a wrong password, and a stream with B-frames', async () => {
    const wrong = await check('camera', {
      config: withConfig((c) => ({
        ...c,
        camera: { ...c.camera, password: 'camera-wrong-31' } as Config['camera'],
      })),
    });
    expect(wrong.status).toBe('fail');
    expect(wrong.detail).toMatch(/refused the user ?name or password/);
    expect(wrong.fix).toMatch(/camera\.username and camera\.password/);
    expect(JSON.stringify(wrong)).not.toContain('camera-wrong-31');

    odd = await startOddCamera({ bframes: 2 });
    camera.onvif!.setStreamUri(1, odd.url);
    try {
      const bframes = await check('camera');
      expect(bframes.status).toBe('warn');
      expect(bframes.detail).toMatch(/the stream uses B-frames/);
      expect(bframes.fix).toMatch(/turn off B-frames/);
    } finally {
      camera.onvif!.setStreamUri(1, camera.urls[0]!);
    }
  }, 60_000);

  it('broker: a wrong password, and a certificate not trusted', async () => {
    const mqtt = healthy.config.mqtt!;
    const wrong = await check('broker', {
      config: withConfig((c) => ({ ...c, mqtt: { ...mqtt, password: 'broker-wrong-42' } })),
    });
    expect(wrong).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/refused the user name or password/),
    });
    expect(wrong.fix).toMatch(/mqtt\.username and mqtt\.password/);
    expect(JSON.stringify(wrong)).not.toContain('broker-wrong-42');
    const { ca: _ca, ...withoutCa } = mqtt;
    const untrusted = await check('broker', {
      config: withConfig((c) => ({ ...c, mqtt: withoutCa })),
    });
    expect(untrusted).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^TLS with the broker/),
    });
    expect(untrusted.fix).toMatch(/mqtt\.ca/);
  });

  it('clock: not synchronised, behind the saved floor, or unknown', async () => {
    const unsynced = await check('clock', { deps: deps({}, unsyncedPath) });
    expect(unsynced).toMatchObject({ status: 'fail', detail: 'not synchronised (timedatectl)' });
    expect(unsynced.fix).toMatch(/timedatectl set-ntp true/);

    // The kernel's own state, when timedatectl cannot answer (no systemd): a real reading.
    const noSystemd = `${await fakeTool(join(work.dir, 'no-systemd'), 'timedatectl', 'exit 1')}:${process.env.PATH}`;
    const kernel = await readClockSync(AbortSignal.timeout(10_000), {
      ...process.env,
      PATH: noSystemd,
    });
    expect(kernel.via).toBe('adjtimex');
    expect(typeof kernel.synchronized).toBe('boolean');

    const nothing = await check('clock', { deps: deps({}, join(work.dir, 'empty-path')) });
    expect(nothing).toMatchObject({
      status: 'warn',
      detail: 'cannot tell whether the clock is synchronised',
    });
    expect(nothing.fix).toMatch(/chronyc tracking/);

    // A floor the agent saved a day ahead of the clock: the clock was set back.
    const db = await Database.open(agentPaths(healthy.config.dataDir).database);
    const ahead = Date.now() + 24 * 3600_000;
    await db.run("INSERT INTO agent_state (key, value) VALUES ('time_floor', ?)", [String(ahead)]);
    await db.close();
    const behind = await check('clock', {
      deps: deps({ readFloor: () => readTimeFloor(healthy.config) }),
    });
    expect(behind.status).toBe('fail');
    expect(behind.detail).toMatch(/a time this device has already seen: it was reset/);
    expect(behind.fix).toMatch(/RTC battery/);
  });

  it('owner page: on the network without TLS', async () => {
    const open = await check('ui', {
      config: withConfig((c) => ({ ...c, ui: { ...c.ui, listen: '0.0.0.0:8470' } })),
    });
    expect(open).toMatchObject({
      status: 'fail',
      detail: 'served without TLS on 0.0.0.0:8470, reachable from the network',
    });
    expect(open.fix).toMatch(/127\.0\.0\.1:8470/);
  });
});
