import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxStorage } from '../../../hal/linux/storage.js';
import { makeSegments } from '../../../test-fixtures/make-segments.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { agentPaths, openAgentDatabase } from '../../db/open.js';
import { presentedFrames, streamsOf } from '../../export/test-support/clip-readers.js';
import { createLogger } from '../../log.js';
import { SegmentStore } from '../../recording/segment-store.js';
import { openCustody } from '../../seal/custody.js';
import { openSealedFile } from '../../seal/open-file.js';
import { runCli, tempDir } from '../../test-support/cli.js';
import type { CliContext } from '../context.js';
import { registerExport } from './export.js';
import { withRequestStore } from './requests.js';

const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
const iso = (s: number) => new Date(BASE + s * 1000).toISOString();
const REQUEST_ID = 'QUJDREVGR0hJSktMTU5PUA';

let dir: string;
let cleanup: () => Promise<void>;
let configPath: string;
let config: Config;
let printed: string[];
let sha256s: string[];
const agency = nacl.box.keyPair();

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
    sha256s = rows.map((row) => row.sha256);
  } finally {
    await db.close();
  }
  await withRequestStore(config, ({ store }) =>
    store.accept(
      {
        id: REQUEST_ID,
        state: 'pending',
        agencyId: 'metro-police',
        agencyName: 'Metropolitan Police',
        signingKey: Buffer.alloc(32).toString('base64'),
        rootNames: ['Test Root'],
        investigationCode: 'CASE-1',
        title: 'A test request',
        description: 'Footage, please.',
        area: { lat: 52.37, lon: 4.9, radiusM: 500 },
        window: { start: BASE, end: BASE + 10_000 },
        issuedAt: BASE,
        expiresAt: Date.now() + 3600_000,
        recipient: Buffer.from(agency.publicKey).toString('base64'),
        uploadUrl: 'https://evidence.example/uploads',
        segmentIds: [],
        receivedAt: Date.now(),
        payloadSha256: createHash('sha256').update('payload').digest('hex'),
        envelope: Buffer.from('{}'),
      },
      {},
    ),
  );
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
    await expect(
      run('--from', iso(1), '--to', iso(4), '--out', join(dir, 'n.mp4'), '--seal-to', 'abc'),
    ).rejects.toThrow('--seal-to and --request-id go together');
  });

  it('seals the clip to the request recipient, with its custody record', async () => {
    const out = join(dir, 'clip.tseal');
    const key = Buffer.from(agency.publicKey).toString('base64');
    await run(
      ...['--from', iso(3.3), '--to', iso(7.3), '--out', out, '--audio', '--json'],
      ...['--seal-to', key, '--request-id', REQUEST_ID],
    );
    const result = JSON.parse(printed.join('\n')) as { sealed: { custody: string } };
    const opened = join(dir, 'opened.mp4');
    const { context } = await openSealedFile({
      input: out,
      output: opened,
      boxSecretKey: agency.secretKey,
    });
    expect(context).toMatchObject({ requestId: REQUEST_ID, clipIndex: 0 });
    expect(Math.abs((await presentedFrames(opened)).length - 100)).toBeLessThanOrEqual(1);
    const { record } = await openCustody(result.sealed.custody, agency.secretKey);
    expect(record).toMatchObject({
      requestId: REQUEST_ID,
      requestPayloadSha256: createHash('sha256').update('payload').digest('hex'),
      cutMode: 'fast',
      // The fixture has no audio track: asked for, none to include.
      audio: false,
      clip: { index: 0, start: iso(3.3), end: iso(7.3) },
      sourceSegments: sha256s.slice(1, 4),
    });
    expect(record.plaintext.sha256).toBe(
      createHash('sha256')
        .update(await readFile(opened))
        .digest('hex'),
    );
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

  it('refuses to seal for a request this device does not know', async () => {
    const key = Buffer.from(agency.publicKey).toString('base64');
    await expect(
      run(
        ...['--from', iso(1), '--to', iso(4), '--out', join(dir, 'x.tseal')],
        ...['--seal-to', key, '--request-id', 'ZZZZZZZZZZZZZZZZZZZZZZ'],
      ),
    ).rejects.toMatchObject({ code: 'unknown_request' });
  });
});
