import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommand, exited, ROOT, runCli, tempDir } from '../../test-support/cli.js';
import { waitFor } from '../../test-support/poll.js';

/**
 * The README's first command, end to end: `threshold demo` records its emulated camera,
 * its demo agency asks for footage, the owner shares from the command line, and the demo
 * agency's receiver reports the clip it opened and verified.
 */

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('threshold demo', () => {
  it('asks, shares what the owner approves, and the demo agency verifies it', async () => {
    const { dir, cleanup } = await tempDir('threshold-demo-');
    cleanups.push(cleanup);
    const dataDir = join(dir, 'demo');
    const [cmd, argv] = cliCommand(['demo', '--data-dir', dataDir, '--request-after', '12']);
    const demo = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => {
      demo.kill('SIGKILL');
      await exited(demo);
    });
    let out = '';
    let err = '';
    demo.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    demo.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err = (err + chunk).slice(-20_000);
    });

    const id = await waitFor(() => /sent a signed request \(([A-Za-z0-9_-]{22})\)/.exec(out)?.[1], {
      timeoutMs: 120_000,
      what: `the demo request (stderr: ${err.slice(-500)})`,
    });
    const configPath = join(dataDir, 'config.json');
    expect(out).toContain(`threshold share --config ${configPath} ${id} --wait`);
    // Where the owner's page is, with live view, and how to pair with it.
    expect(out).toMatch(
      /The owner's page \(requests, sharing, live view\): http:\/\/127\.0\.0\.1:\d+\n/,
    );
    expect(out).toContain(`threshold pair --config ${configPath}`);
    const shared = await runCli(['share', '--config', configPath, id, '--yes', '--wait'], 180_000);
    expect(shared.stderr).not.toMatch(/threshold:/);
    expect(shared.code).toBe(0);

    const path = await waitFor(
      () =>
        new RegExp(`received clip 0 of ${id}, opened it and verified[^\\n]*\\n\\s+(\\S+)`).exec(
          out,
        )?.[1],
      { timeoutMs: 60_000, what: 'the demo agency to verify the clip' },
    );
    expect(path).toBe(join(dataDir, 'demo-agency', 'received', id, 'clip-0.mp4'));
    expect((await stat(path)).size).toBeGreaterThan(10_000);

    demo.kill('SIGTERM');
    expect(await exited(demo)).toEqual({ code: 143, signal: null });
  }, 360_000);
});
