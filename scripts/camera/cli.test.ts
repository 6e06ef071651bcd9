import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../agent/errors.js';
import { OnvifSession } from '../../hal/linux/onvif/client.js';
import { parseCameraCli } from './cli.js';
import { connectionRefused } from './test-support/media.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('parseCameraCli', () => {
  it('defaults to port 8554 and the script defaults', () => {
    expect(parseCameraCli([])).toEqual({
      kind: 'run',
      settings: {
        port: 8554,
        host: undefined,
        cameras: undefined,
        fps: undefined,
        keyframeSeconds: undefined,
        audio: false,
      },
    });
  });

  it('reads every flag', () => {
    const command = parseCameraCli([
      ...['--port', '0', '--host', '0.0.0.0', '--cameras', '3', '--size', '640x360'],
      ...['--fps', '15', '--keyframe-seconds', '1.2', '--audio', '--motion', '20-25,60-64'],
    ]);
    expect(command).toEqual({
      kind: 'run',
      settings: {
        port: 0,
        host: '0.0.0.0',
        cameras: 3,
        size: { width: 640, height: 360 },
        fps: 15,
        keyframeSeconds: 1.2,
        audio: true,
        motion: [
          { start: 20, end: 25 },
          { start: 60, end: 64 },
        ],
      },
    });
  });

  it('reads the ONVIF flags, one device-service port per camera', () => {
    const command = parseCameraCli([
      ...['--cameras', '2', '--onvif', '--onvif-port', '9000', '--discovery-port', '0'],
      ...['--username', 'u', '--password', 'p', '--onvif-faults'],
    ]);
    expect(command).toMatchObject({
      kind: 'run',
      onvif: {
        ports: [9000, 9001],
        discoveryPort: 0,
        username: 'u',
        password: 'p',
        faulting: true,
      },
    });
    expect(parseCameraCli(['--onvif'])).toMatchObject({
      onvif: { ports: [8000], discoveryPort: 3702, faulting: false },
    });
    expect(parseCameraCli([])).not.toHaveProperty('onvif');
  });

  it('asks for help with --help or -h', () => {
    expect(parseCameraCli(['--help'])).toEqual({ kind: 'help' });
    expect(parseCameraCli(['-h', '--port', 'x'])).toEqual({ kind: 'help' });
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--port'], '--port'],
    [['--port', 'abc'], '--port'],
    [['--port', '70000'], '--port'],
    [['--cameras', '0'], '--cameras'],
    [['--fps', '2.5'], '--fps'],
    [['--keyframe-seconds', '0'], '--keyframe-seconds'],
    [['--size', '1281x720'], '--size'],
    [['--motion', '9-3'], '--motion'],
    [['--password', 'x'], '--password'],
    [['--onvif', '--onvif-port', '65535', '--cameras', '2'], '--onvif-port'],
    [['--onvif', '--discovery-port', 'x'], '--discovery-port'],
  ])('refuses %o with an error naming %s', (argv, flag) => {
    let error: unknown;
    try {
      parseCameraCli(argv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain(flag);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('npm run camera', () => {
  const children: ChildProcess[] = [];

  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  function runCli(args: string[]): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return child;
  }

  function finished(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    return new Promise((resolve) => {
      child.once('close', (code) => resolve({ code, stderr }));
    });
  }

  /** The URLs the CLI prints for people, once the cameras listen. */
  async function printedUrls(child: ChildProcess, count: number): Promise<URL[]> {
    const urls: URL[] = [];
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
      const match = /^\s+(rtsp:\/\/\S+)$/.exec(line);
      if (match?.[1]) urls.push(new URL(match[1]));
      if (urls.length === count) break;
    }
    return urls;
  }

  it('exits 2 with one line naming a bad flag', async () => {
    const { code, stderr } = await finished(runCli(['--cameras', '2', '--bogus']));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('--bogus');
  });

  it('prints usage for --help', async () => {
    const child = runCli(['--help']);
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    expect((await finished(child)).code).toBe(0);
    expect(stdout).toContain('Usage: npm run camera');
    expect(stdout).toContain('--keyframe-seconds');
  });

  it('prints the camera URLs and stops the cameras on SIGTERM', async () => {
    const child = runCli(['--port', '0', '--cameras', '2']);
    const done = finished(child);
    const urls = await printedUrls(child, 2);
    expect(urls.map((u) => u.pathname)).toEqual(['/cam1', '/cam2']);
    const port = Number(urls[0]?.port);
    expect(await connectionRefused('127.0.0.1', port)).toBe(false);
    child.kill('SIGTERM');
    expect((await done).code).toBe(143);
    expect(await connectionRefused('127.0.0.1', port)).toBe(true);
  }, 30_000);

  it('serves ONVIF beside RTSP with --onvif, and stops both on SIGTERM', async () => {
    const child = runCli(['--port', '0', '--onvif', '--onvif-port', '0', '--discovery-port', '0']);
    const done = finished(child);
    const lines: string[] = [];
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
      lines.push(line.trim());
      if (line.includes('SIGUSR1')) break;
    }
    const rtsp = lines.find((line) => line.startsWith('rtsp://'));
    const xaddr = new URL(lines.find((line) => line.startsWith('http://')) ?? '');
    const session = await OnvifSession.connect({
      host: xaddr.hostname,
      port: Number(xaddr.port),
      username: 'admin',
      password: 'threshold',
      timeoutMs: 10_000,
    });
    expect(await session.streamUri()).toBe(rtsp);
    await session.close();
    child.kill('SIGTERM');
    expect((await done).code).toBe(143);
    expect(await connectionRefused('127.0.0.1', Number(xaddr.port))).toBe(true);
  }, 30_000);

  it('leaves no camera behind when it is killed outright', async () => {
    const child = runCli(['--port', '0']);
    const [url] = await printedUrls(child, 1);
    const port = Number(url?.port);
    child.kill('SIGKILL');
    // The script sees its stdin close and exits on its own; poll for that with a deadline.
    const deadline = Date.now() + 5000;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      refused = await connectionRefused('127.0.0.1', port);
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused).toBe(true);
  }, 30_000);
});
