import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { runCli, tempDir, writeConfig } from '../test-support/cli.js';
import { loadConfig, parseConfig } from './load.js';

const good = {
  dataDir: 'data',
  device: { location: { lat: 52.37, lon: 4.89 } },
  camera: { source: 'rtsp', url: 'rtsp://cam.local:554/stream' },
};

function withChange(change: (config: Record<string, any>) => void): Record<string, unknown> {
  const config = structuredClone(good) as Record<string, any>;
  change(config);
  return config;
}

describe('config parsing', () => {
  it('accepts a recording-only config and fills the defaults', () => {
    const config = parseConfig(JSON.stringify(good), '/etc/threshold');
    expect(config.dataDir).toBe('/etc/threshold/data');
    expect(config.recording.segmentSeconds).toBe(2);
    expect(config.retention.bufferMinutes).toBe(60);
    expect(config.policy.maxRadiusM).toBe(800);
    expect(config.mqtt).toBeUndefined();
  });

  it('reports every problem at once, each naming its key', () => {
    const bad = withChange((c) => {
      c.device.location.lat = 'north';
      c.extra = true;
      c.retention = { maxBytes: -5 };
    });
    expect(() => parseConfig(JSON.stringify(bad), '/')).toThrowError(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.stringMatching(/^device\.location\.lat: /),
          'extra: unknown key',
          expect.stringMatching(/^retention\.maxBytes: /),
        ]),
      }),
    );
  });
});

describe('reading the config file', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await writeFile(join(dir, 'a-file'), 'not a directory');
    await mkdir(join(dir, 'a-directory.json'));
  });
  afterAll(() => cleanup());

  async function problems(path: string): Promise<readonly string[]> {
    const err = await loadConfig(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${err}`);
    return err.problems;
  }

  // Tests run as root, to whom a file of mode 000 is still readable: these failures are
  // ones the kernel gives root too.
  it('says why a config file cannot be read: missing is not the same as unreadable', async () => {
    const missing = join(dir, 'missing.json');
    expect(await problems(missing)).toEqual([
      `(file): cannot read ${missing} (ENOENT: no such file or directory)`,
    ]);
    const throughFile = join(dir, 'a-file', 'config.json');
    expect(await problems(throughFile)).toEqual([
      `(file): cannot read ${throughFile} (ENOTDIR: not a directory)`,
    ]);
    const directory = join(dir, 'a-directory.json');
    expect(await problems(directory)).toEqual([
      `(file): cannot read ${directory} (EISDIR: illegal operation on a directory)`,
    ]);
  });

  it('says why the data directory cannot be used, without echoing its value', async () => {
    const path = await writeConfig(
      dir,
      withChange((c) => (c.dataDir = 'a-file/secret-name')),
      'unusable.json',
    );
    const [problem, ...rest] = await problems(path);
    expect(rest).toEqual([]);
    expect(problem).toBe('dataDir: is not a writable directory (ENOTDIR: not a directory)');
    expect(problem).not.toContain('secret-name');
  });
});

describe('bad configs through the CLI', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await writeFile(join(dir, 'a-file'), 'not a directory');
  });
  afterAll(() => cleanup());

  const cases: [string, unknown, string][] = [
    ['missing dataDir', withChange((c) => delete c.dataDir), 'dataDir'],
    ['missing device', withChange((c) => delete c.device), 'device'],
    ['missing camera', withChange((c) => delete c.camera), 'camera'],
    [
      'latitude of the wrong type',
      withChange((c) => (c.device.location.lat = '52')),
      'device.location.lat',
    ],
    [
      'latitude out of range',
      withChange((c) => (c.device.location.lat = 123)),
      'device.location.lat',
    ],
    ['unknown top-level key', withChange((c) => (c.colour = 'blue')), 'colour'],
    ['unknown nested key', withChange((c) => (c.camera.fps = 25)), 'camera.fps'],
    ['unknown camera source', withChange((c) => (c.camera.source = 'usb')), 'camera.source'],
    [
      'camera URL of another scheme',
      withChange((c) => (c.camera.url = 'http://cam.local/')),
      'camera.url',
    ],
    ['camera URL that is not a URL', withChange((c) => (c.camera.url = 'not a url')), 'camera.url'],
    [
      'broker URL of another scheme',
      withChange((c) => (c.mqtt = { url: 'ftp://broker' })),
      'mqtt.url',
    ],
    [
      'segment length of the wrong type',
      withChange((c) => (c.recording = { segmentSeconds: '2' })),
      'recording.segmentSeconds',
    ],
    [
      'trust threshold above the roots',
      withChange(
        (c) =>
          (c.trust = { roots: [{ name: 'r', publicKey: `${'A'.repeat(43)}=` }], threshold: 2 }),
      ),
      'trust.threshold',
    ],
    ['unwritable dataDir', withChange((c) => (c.dataDir = 'a-file/data')), 'dataDir'],
  ];

  it.each(cases)('%s: exits non-zero with one line naming the key', async (_name, config, key) => {
    const path = await writeConfig(
      dir,
      config,
      `${key}-${Math.random().toString(36).slice(2)}.json`,
    );
    const result = await runCli(['status', '--config', path]);
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^threshold: config ${key.replace('.', '\\.')}: `));
  });

  it('never prints a secret from a bad value', async () => {
    const path = await writeConfig(
      dir,
      withChange((c) => (c.camera.url = 'rtsp://admin:hunter2@/x')),
      'secret.json',
    );
    const result = await runCli(['status', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/camera\.url/);
    expect(result.stderr).not.toContain('hunter2');
  });

  it('names the file when it is not JSON', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ "dataDir": ');
    const result = await runCli(['status', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/not valid JSON/);
  });
});
