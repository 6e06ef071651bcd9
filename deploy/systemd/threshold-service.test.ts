import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../../agent/test-support/cli.js';

const exec = promisify(execFile);

/**
 * The systemd unit: systemd's own checks pass on it (`systemd-analyze verify`, and
 * `security --offline=yes` rates its exposure 2.5 or lower, "OK"), it has the hardening
 * the design asks for, and it starts the agent as the arm64 image does.
 */

const UNIT = join(ROOT, 'deploy/systemd/threshold.service');
let work: { dir: string; cleanup: () => Promise<void> };
let unitText: string;
/** The unit as install.sh writes it: ExecStart names this machine's node. */
let installed: string;

beforeAll(async () => {
  work = await tempDir('threshold-unit-');
  unitText = await readFile(UNIT, 'utf8');
  installed = join(work.dir, 'threshold.service');
  await writeFile(
    installed,
    unitText.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `),
  );
});

afterAll(async () => {
  await work?.cleanup();
});

/** Every value of `key` in the unit, in order. */
function values(key: string): string[] {
  return unitText
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

describe('deploy/systemd/threshold.service', () => {
  it('passes systemd-analyze verify', async () => {
    const { stdout, stderr } = await exec('systemd-analyze', ['verify', installed]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  it('is rated OK or better by systemd-analyze security --offline=yes', async () => {
    const { stdout } = await exec('systemd-analyze', ['security', '--offline=yes', installed]);
    const match = /Overall exposure level for threshold\.service: (\d+\.\d) (\S+)/.exec(stdout);
    expect(match, stdout).not.toBeNull();
    expect(Number(match?.[1])).toBeLessThanOrEqual(2.5);
    expect(['OK', 'SAFE']).toContain(match?.[2]);
  });

  it('has the hardening the design names', () => {
    expect(values('User')).toEqual(['threshold']);
    expect(values('StateDirectory')).toEqual(['threshold']);
    expect(values('Restart')).toEqual(['on-failure']);
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['ProtectProc', 'invisible'],
      ['CapabilityBoundingSet', ''],
    ] as const) {
      expect(values(key), key).toEqual([value]);
    }
    expect(values('RestrictAddressFamilies')).toEqual(['AF_INET AF_INET6 AF_UNIX']);
    expect(values('SystemCallFilter')).toContain('@system-service');
  });

  it('starts the agent as the arm64 image does: same command, config and user', async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile.arm64'), 'utf8');
    const json = (instruction: string) => {
      const line = dockerfile.split('\n').find((l) => l.startsWith(`${instruction} [`));
      return JSON.parse(line?.slice(instruction.length + 1) ?? '[]') as string[];
    };
    const image = [...json('ENTRYPOINT'), ...json('CMD')];
    // tini forwards signals in the image; systemd does it itself.
    expect(image[0]).toMatch(/\/tini$/);
    expect(image[1]).toBe('--');
    const [execStart] = values('ExecStart');
    expect(execStart?.split(' ').slice(1)).toEqual(image.slice(3));
    expect(image[2]).toBe('node');
    expect(dockerfile).toMatch(/^USER threshold$/m);
    expect(dockerfile).toContain('VOLUME ["/var/lib/threshold"]');
  });

  it('install.sh is valid shell', async () => {
    await exec('bash', ['-n', join(ROOT, 'deploy/systemd/install.sh')]);
    const script = await readFile(join(ROOT, 'deploy/systemd/install.sh'), 'utf8');
    expect(script).toContain('systemctl daemon-reload');
    expect(script).toMatch(/useradd --system/);
  });
});
