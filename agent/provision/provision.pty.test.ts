import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmulatedCameras,
  startEmulatedCameras,
} from '../../scripts/camera/emulated-camera.js';
import { parseConfig } from '../config/load.js';
import { cliCommand, ROOT, tempDir } from '../test-support/cli.js';
import { type SecureBroker, startSecureBroker } from '../test-support/secure-broker.js';
import {
  CAMERA_PASSWORD,
  CAMERA_USER,
  filesUnder,
  writeTrustRoots,
} from './test-support/provision-kit.js';

const exec = promisify(execFile);

/**
 * Interactive provisioning through a real pseudo-terminal (Python's pty, Debian's
 * python3): the installer picks the discovered camera, mistypes the password and a
 * latitude, and is asked again each time; the result is the same config as with flags.
 * What the terminal showed, and every file beside the config, never holds a password.
 */

let work: { dir: string; cleanup: () => Promise<void> };
let camera: EmulatedCameras;
let broker: SecureBroker;
let rootsFile: string;

beforeAll(async () => {
  work = await tempDir('threshold-provision-pty-');
  camera = await startEmulatedCameras({
    size: { width: 640, height: 360 },
    fps: 15,
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

interface Drive {
  code: number;
  transcript: string;
  raw: string;
  step: number;
}

async function drive(steps: [string, string][], args: string[]): Promise<Drive> {
  const script = join(work.dir, 'dialogue.json');
  await writeFile(script, JSON.stringify(steps));
  const [node, argv] = cliCommand(args);
  const { stdout } = await exec(
    '/usr/bin/python3',
    [join(import.meta.dirname, 'test-support', 'pty-drive.py'), script, '--', node, ...argv],
    { cwd: ROOT, timeout: 240_000, env: { ...process.env, TERM: 'xterm' } },
  );
  return JSON.parse(stdout) as Drive;
}

describe('threshold provision on a terminal', () => {
  it('asks, checks each answer at once, and writes the same config as with flags', async () => {
    const dir = join(work.dir, 'tty');
    await mkdir(dir);
    const configPath = join(dir, 'etc', 'config.json');
    const dataDir = join(dir, 'data');
    const onvif = camera.onvif!;
    const device = onvif.devices[0]!;
    const wrongPassword = 'typo-Pr0vision-1';
    const steps: [string, string][] = [
      [String.raw`Camera: its number in the list, or an address \(host or host:port\) \[1\]: `, ''],
      [String.raw`Camera user name \[admin\]: `, CAMERA_USER],
      ['Camera password: ', wrongPassword],
      [String.raw`refused the user name or password\s+Camera user name \[admin\]: `, CAMERA_USER],
      ['Camera password: ', CAMERA_PASSWORD],
      [String.raw`Camera profile \(number or token\) \[profile_main\]: `, ''],
      [String.raw`\[onvif\]: `, ''],
      [String.raw`Latitude of the camera \(decimal degrees, north positive\): `, '91'],
      [
        String.raw`the latitude must be from -90 to 90\s+Latitude of the camera \(decimal degrees, north positive\): `,
        '52.3702',
      ],
      [String.raw`Longitude of the camera \(decimal degrees, east positive\): `, '4.8952'],
      [String.raw`Where footage, the database and keys are kept \[/var/lib/threshold\]: `, dataDir],
      ['MQTT broker for community requests .*: ', broker.url],
      [String.raw`MQTT user name \[none\]: `, broker.username],
      ['MQTT password: ', broker.password],
      [String.raw`CA certificate of the broker .*\[none\]: `, broker.caFile],
      ['Trust roots file .*: ', rootsFile],
      [String.raw`How many trust roots must sign an agency’s delegation \[1\]: `, '2'],
    ];
    const result = await drive(steps, [
      'provision',
      ...['--config', configPath],
      ...['--service-user', 'root'],
      ...['--probe-seconds', '4', '--timeout-seconds', '5'],
      ...['--discovery-port', String(onvif.discoveryPort)],
      ...['--discovery-address', '127.0.0.1', '--discovery-interface', '127.0.0.1'],
      ...['--discovery-seconds', '2'],
    ]);
    expect(result.step, result.transcript).toBe(steps.length);
    expect(result.code, result.transcript).toBe(0);
    expect(result.transcript).toContain(`1) 127.0.0.1:${device.port}  Threshold emulated camera 1`);
    expect(result.transcript).toContain(`Wrote ${configPath} (mode 0600`);

    const config = parseConfig(await readFile(configPath, 'utf8'), dir);
    expect(config.camera).toEqual({
      source: 'onvif',
      host: '127.0.0.1',
      port: device.port,
      username: CAMERA_USER,
      password: CAMERA_PASSWORD,
      profile: 'profile_main',
    });
    expect(config.device.location).toEqual({ lat: 52.3702, lon: 4.8952 });
    expect(config.motion.source).toBe('onvif');
    expect(config.mqtt).toEqual({
      url: broker.url,
      username: broker.username,
      password: broker.password,
      ca: broker.caFile,
    });
    expect(config.trust?.threshold).toBe(2);
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);

    // The terminal showed the other answers (so the scan is not vacuous), never a password.
    expect(result.transcript).toContain(CAMERA_USER);
    expect(result.transcript).toContain(broker.username);
    for (const secret of [CAMERA_PASSWORD, wrongPassword, broker.password]) {
      expect(result.transcript).not.toContain(secret);
      expect(result.raw).not.toContain(secret);
    }
    // Nor any file beside the config, or in the data directory.
    const neighbours = [...(await filesUnder(join(dir, 'etc'))), ...(await filesUnder(dataDir))];
    expect(neighbours.map((f) => f.path)).toContain(configPath);
    for (const file of neighbours.filter((f) => f.path !== configPath)) {
      expect(file.text).not.toContain(CAMERA_PASSWORD);
      expect(file.text).not.toContain(broker.password);
    }
  }, 240_000);
});
