import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxStorage } from '../../../hal/linux/storage.js';
import { makeSegments } from '../../../test-fixtures/make-segments.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { agentPaths, openAgentDatabase } from '../../db/open.js';
import { presentedFrames, streamsOf } from '../../export/test-support/clip-readers.js';
import { createLogger } from '../../log.js';
import { SegmentStore } from '../../recording/segment-store.js';
import { runCli, tempDir } from '../../test-support/cli.js';
import type { CliContext } from '../context.js';
import { registerExport } from './export.js';

const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
const iso = (s: number) => new Date(BASE + s * 1000).toISOString();

let dir: string;
let cleanup: () => Promise<void>;
let configPath: string;
let config: Config;
let printed: string[];

async function run(...args: string[]): Promise<void> {
  const ctx: CliContext = {
    config: loadConfig,
    logger: () => createLogger({ level: 'silent' }),
    out: (text) => printed.push(text),
  };
  const program = new Command().exitOverride();
  registerExport(program, ctx);
  printed = [];
  await program.parseAsync(['export', '--config', configPath, ...args], { from: 'user' });
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-export-cli-'));
  configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.37, lon: 4.9 } },
      camera: { source: 'emulated' },
      log: { level: 'error' },
    }),
  );
  config = await loadConfig(configPath);
  const segmentsDir = agentPaths(config.dataDir).segments;
  const db = await openAgentDatabase(config);
  try {
    const { lastId: runId } = await db.run('INSERT INTO recorder_runs (started_at) VALUES (?)', [
      BASE,
    ]);
    const rows = await makeSegments({ dir: segmentsDir, durationS: 10, runId, baseMs: BASE });
    const store = new SegmentStore(db, new LinuxStorage(), segmentsDir);
    for (const [seq, row] of rows.entries()) {
      await store.add({ ...row, runId, seq, file: basename(row.path) });
    }
  } finally {
    await db.close();
  }
}, 60_000);

afterAll(async () => {
  await cleanup();
});

describe('threshold export', () => {
  it('writes the range as an MP4 and prints what it did', async () => {
    const out = join(dir, 'clip.mp4');
    await run('--from', iso(3.3), '--to', iso(7.3), '--out', out, '--json');
    const result = JSON.parse(printed.join('\n')) as Record<string, unknown>;
    expect(result).toMatchObject({ output: out, mode: 'fast', method: 'copy', audio: 'dropped' });
    expect(result.gaps).toEqual([]);
    expect(Math.abs((await presentedFrames(out)).length - 100)).toBeLessThanOrEqual(1);
    // The export's hold on the footage is gone.
    const db = await openAgentDatabase(config);
    try {
      expect(await db.all('SELECT * FROM pins')).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('cuts exactly with --exact and says so in one line', async () => {
    const out = join(dir, 'exact.mp4');
    await run('--from', iso(1.1), '--to', iso(3.1), '--out', out, '--exact');
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^wrote .*exact\.mp4: 2\.0 s, .*, exact cut, audio dropped$/);
    expect(await streamsOf(out)).toHaveLength(1);
  });

  it('reports a range without footage, and bad flags, as one-line errors', async () => {
    await expect(
      run('--from', iso(60), '--to', iso(70), '--out', join(dir, 'n.mp4')),
    ).rejects.toMatchObject({ code: 'no_footage' });
    await expect(
      run('--from', iso(5), '--to', iso(4), '--out', join(dir, 'n.mp4')),
    ).rejects.toThrow('--to: must be after --from');
    await expect(
      run('--from', 'yesterday', '--to', iso(4), '--out', join(dir, 'n.mp4')),
    ).rejects.toThrow(/--from: not an ISO-8601 time/);
    await expect(
      run('--from', iso(1), '--to', iso(4), '--out', join(dir, 'clip.mp4')),
    ).rejects.toThrow(/--out: .* exists/);
    await expect(
      run('--from', iso(1), '--to', iso(4), '--out', join(dir, 'nodir', 'n.mp4')),
    ).rejects.toThrow(/does not exist/);
  });

  it('prints one line and exits non-zero from the real command line', async () => {
    const bad = await runCli(
      [
        'export',
        '--config',
        configPath,
        '--from',
        iso(5),
        '--to',
        iso(4),
        '--out',
        join(dir, 'n.mp4'),
      ],
      60_000,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('threshold: --to: must be after --from\n');
    const none = await runCli(
      [
        'export',
        '--config',
        configPath,
        '--from',
        iso(60),
        '--to',
        iso(70),
        '--out',
        join(dir, 'n.mp4'),
      ],
      60_000,
    );
    expect(none.code).toBe(1);
    expect(none.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^threshold: no_footage: no footage between /),
    ]);
  }, 120_000);

  it('seals nothing: sharing goes through threshold share', async () => {
    await expect(
      run(
        ...['--from', iso(1), '--to', iso(4), '--out', join(dir, 'x.tseal')],
        ...['--seal-to', Buffer.alloc(32).toString('base64')],
      ),
    ).rejects.toThrow(/unknown option '--seal-to'/);
  });
});
