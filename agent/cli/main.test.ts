import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeConfig } from '../test-support/cli.js';
import { runAgency } from '../test-support/request-world.js';

/** The `threshold` command line as its own process, as the owner runs it. */
const PACKAGE_VERSION = (
  JSON.parse(await readFile(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
    version: string;
  }
).version;

describe('threshold', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('prints its version with --version', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`${PACKAGE_VERSION}\n`);
    }
  });

  it('threshold-agency prints the same version, and its revoke keeps --version for the list', async () => {
    const run = await runAgency(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${PACKAGE_VERSION}\n`);
    // After the command, --version is revoke's own flag (the revocation list's version).
    const revoke = await runAgency(['revoke', '--root', '/nonexistent', '--version', 'x']);
    expect(revoke.stdout).toBe('');
    expect(revoke.code).not.toBe(0);
  });

  it('refuses a --duration that is not a number of seconds, at once, on one line, exit 2', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const configPath = await writeConfig(dir, {
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.37, lon: 4.89 } },
      camera: { source: 'rtsp', url: 'rtsp://127.0.0.1:9/cam1' },
    });
    const run = await runCli(['run', '--config', configPath, '--duration', 'abc']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('threshold: --duration: not a number of seconds, such as 30 or 2.5\n');
    // Refused before anything started: the config's data directory was never made.
    await expect(access(join(dir, 'data'))).rejects.toMatchObject({ code: 'ENOENT' });

    const demoDir = join(dir, 'demo');
    const demo = await runCli(['demo', '--data-dir', demoDir, '--duration', '-1']);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toBe('threshold: --duration: not a number of seconds, such as 30 or 2.5\n');
    await expect(access(demoDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
