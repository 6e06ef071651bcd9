import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedBroker } from '../../agent/mqtt/embedded-broker.js';
import { requestTopics } from '../../agent/requests/build.js';
import { parseJsonBytes, REVOCATION_TOPIC } from '../../agent/requests/protocol.js';
import { createRequestService } from '../../agent/requests/request-service.js';
import { TrustState } from '../../agent/requests/trust.js';
import { waitFor } from '../../agent/test-support/poll.js';
import {
  createRequestWorld,
  DEVICE_LOCATION,
  type RequestWorld,
} from '../../agent/test-support/request-world.js';
import { SystemClock } from '../../hal/linux/clock.js';
import { main } from './main.js';
import { ledgerPath, RequestLedger } from './request-ledger.js';

/** `threshold-agency` in process: real key files, real signatures judged by the device's code. */

const log = pino({ level: 'silent' });
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-agency-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function agency(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await main(args, { out: (text) => out.push(text), now: () => Date.now() });
    return { code, out: out.join('\n'), err: err.join('') };
  } finally {
    spy.mockRestore();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('keygen', () => {
  it('writes two key pairs, secrets mode 0600, and prints the public keys', async () => {
    const keys = join(dir, 'agency');
    const run = await agency(['keygen', '--out', keys]);
    expect(run.code).toBe(0);
    const signingPub = (await readFile(join(keys, 'signing.pub'), 'utf8')).trim();
    const boxPub = (await readFile(join(keys, 'box.pub'), 'utf8')).trim();
    expect(run.out).toContain(signingPub);
    expect(run.out).toContain(boxPub);
    expect(
      Buffer.from((await readFile(join(keys, 'signing.key'), 'utf8')).trim(), 'base64'),
    ).toHaveLength(64);
    expect(
      Buffer.from((await readFile(join(keys, 'box.key'), 'utf8')).trim(), 'base64'),
    ).toHaveLength(32);
    for (const name of ['signing.key', 'box.key']) {
      expect((await stat(join(keys, name))).mode & 0o777).toBe(0o600);
    }
  });

  it('refuses to overwrite existing keys', async () => {
    const keys = join(dir, 'agency');
    expect((await agency(['keygen', '--out', keys])).code).toBe(0);
    const before = await readFile(join(keys, 'signing.key'), 'utf8');
    const again = await agency(['keygen', '--out', keys]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^threshold-agency: --out: .*refusing to overwrite/);
    expect(await readFile(join(keys, 'signing.key'), 'utf8')).toBe(before);
  });

  it('says why it cannot look in --out, rather than failing later without a cause', async () => {
    await writeFile(join(dir, 'a-file'), 'not a directory');
    const keys = join(dir, 'a-file', 'agency');
    const run = await agency(['keygen', '--out', keys]);
    expect(run.code).toBe(2);
    expect(run.err).toBe(
      `threshold-agency: --out: cannot check ${join(keys, 'signing.key')} (ENOTDIR: not a directory)\n`,
    );
  });
});

describe('delegate, request and revoke, judged by the device', () => {
  let world: RequestWorld;
  beforeEach(async () => {
    world = await createRequestWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  async function delegate(extra: string[] = []): Promise<string> {
    const out = join(dir, 'delegation.json');
    // biome-ignore format: flag pairs read best one per line
    const run = await agency([
      'delegate',
      '--root', world.rootDir,
      '--agency', world.agencyDir,
      '--agency-id', 'city-pd',
      '--name', 'City Police Department',
      '--regions', 'u09,u0d',
      '--max-radius-m', '1000',
      '--max-window-s', '7200',
      '--days', '7',
      '--out', out,
      ...extra,
    ]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    return out;
  }

  function requestArgs(delegation: string, now = Date.now()): string[] {
    // biome-ignore format: flag pairs read best one per line
    return [
      'request',
      '--agency', world.agencyDir,
      '--delegation', delegation,
      '--lat', String(DEVICE_LOCATION.lat),
      '--lon', String(DEVICE_LOCATION.lon),
      '--radius-m', '300',
      '--from', iso(now - 90_000),
      '--to', iso(now - 30_000),
      '--code', 'CPD-2026-0042',
      '--title', 'Stolen bicycle',
      '--description', 'Red bicycle taken from the rack.',
      '--upload-url', 'https://evidence.example/tus',
      '--expires-in', '2h',
    ];
  }

  it('makes a delegation the device trusts, and a request it accepts', async () => {
    const delegationPath = await delegate();
    const envelope = parseJsonBytes(await readFile(delegationPath)) as never;
    const trust = new TrustState({ db: world.db, config: world.config });
    const verdict = trust.verifyDelegation(envelope);
    expect(verdict).toMatchObject({ ok: true, rootNames: ['Test Root'] });

    const out = join(dir, 'request.json');
    const run = await agency([...requestArgs(delegationPath), '--out', out, '--json']);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.out) as { id: string; topics: string[] };
    expect(printed.topics).toEqual(requestTopics({ ...DEVICE_LOCATION, radiusM: 300 }));
    // The agency's ledger names it (the receiver takes uploads for these ids only).
    const ledger = new RequestLedger(ledgerPath(world.agencyDir));
    expect(await ledger.lookup(printed.id)).toMatchObject({ id: printed.id });
    expect((await stat(ledgerPath(world.agencyDir))).mode & 0o777).toBe(0o600);

    const service = createRequestService({
      config: world.config,
      db: world.db,
      clock: new SystemClock(),
      footage: world.footage,
      log,
    });
    await service.start(new AbortController().signal);
    try {
      const result = await service.intake.handleRequest(
        printed.topics[0] ?? '',
        await readFile(out),
      );
      expect(result).toMatchObject({ kind: 'pending', requestId: printed.id });
      expect((await service.store.get(printed.id))?.agencyName).toBe('City Police Department');
    } finally {
      await service.stop();
    }
  });

  it('publishes a revocation list, retained, that the device applies to pending requests', async () => {
    const broker = new EmbeddedBroker({ port: 0, log });
    await broker.start(new AbortController().signal);
    const service = createRequestService({
      config: { ...world.config, mqtt: { url: broker.url } },
      db: world.db,
      clock: new SystemClock(),
      footage: world.footage,
      log,
      backoff: { baseMs: 20, maxMs: 100 },
    });
    try {
      await service.start(new AbortController().signal);
      await waitFor(() => service.connection()?.state === 'ready', { intervalMs: 10 });
      const delegationPath = await delegate();
      const published = await agency([
        ...requestArgs(delegationPath),
        '--publish',
        broker.url,
        '--json',
      ]);
      const { id } = JSON.parse(published.out) as { id: string };
      await waitFor(async () => (await service.store.get(id))?.state === 'pending', {
        intervalMs: 10,
      });

      // biome-ignore format: flag pairs read best one per line
      const revoke = await agency([
        'revoke', '--root', world.rootDir, '--agency-id', 'city-pd', '--version', '3', '--publish', broker.url,
      ]);
      expect(revoke.code).toBe(0);
      expect(revoke.out).toContain(REVOCATION_TOPIC);
      await waitFor(async () => (await service.store.get(id))?.state === 'expired', {
        intervalMs: 10,
      });
      expect(service.trust.revocationVersion()).toBe(3);
      expect(service.trust.isRevoked('city-pd', '')).toBe(true);
    } finally {
      await service.stop();
      await broker.stop();
    }
  });

  it('names the bad flag in a one-line error', async () => {
    const delegationPath = await delegate();
    const cases: [string[], RegExp][] = [
      [['--lat', '95'], /^threshold-agency: --lat: must be at most 90\n$/],
      [['--from', 'yesterday'], /^threshold-agency: --from: not an ISO-8601 time/],
      [['--code', 'has spaces'], /^threshold-agency: --code: must be/],
      [
        ['--upload-url', 'http://plain.example/'],
        /^threshold-agency: --upload-url: must be an https URL/,
      ],
      [['--expires-in', '3 days'], /^threshold-agency: --expires-in: not a duration/],
      [['--radius-m', '-1'], /^threshold-agency: --radius-m: must be greater than 0/],
      [['--title', 'x'.repeat(121)], /^threshold-agency: --title: must be at most 120 characters/],
    ];
    for (const [override, expected] of cases) {
      const args = requestArgs(delegationPath);
      const at = args.indexOf(override[0] ?? '');
      args.splice(at, 2, ...override);
      const run = await agency([...args, '--out', join(dir, 'r.json')]);
      expect(run.code, override.join(' ')).toBe(2);
      expect(run.err, override.join(' ')).toMatch(expected);
    }
    const both = await agency([...requestArgs(delegationPath)]);
    expect(both.err).toMatch(/^threshold-agency: --publish\/--out: give exactly one/);
    const badDelegation = await agency([
      ...requestArgs(join(dir, 'missing.json')),
      '--out',
      join(dir, 'r.json'),
    ]);
    expect(badDelegation.err).toMatch(/^threshold-agency: --delegation: cannot read/);
    // biome-ignore format: flag pairs read best side by side
    const badRegion = await agency([
      'delegate', '--root', world.rootDir, '--agency', world.agencyDir, '--agency-id', 'x',
      '--name', 'X', '--regions', 'u0a', '--max-radius-m', '1', '--max-window-s', '1',
      '--days', '1', '--out', join(dir, 'd.json'),
    ]);
    expect(badRegion.err).toMatch(/^threshold-agency: --regions: must be geohash prefixes/);
  });

  it('keeps the real cause when a key or the delegation cannot be read', async () => {
    const delegationPath = await delegate();
    // Root reads files of any mode: these are failures the kernel gives root too.
    const notAKeyDir = join(dir, 'not-a-key-dir');
    await writeFile(notAKeyDir, 'a regular file');
    const args = requestArgs(delegationPath);
    args.splice(args.indexOf('--agency'), 2, '--agency', notAKeyDir);
    const badKey = await agency([...args, '--out', join(dir, 'r.json')]);
    expect(badKey.code).toBe(2);
    expect(badKey.err).toBe(
      `threshold-agency: --agency: key file ${join(notAKeyDir, 'signing.key')} cannot be read (ENOTDIR: not a directory)\n`,
    );

    const directory = join(dir, 'a-directory.json');
    await mkdir(directory);
    const badDelegation = await agency([...requestArgs(directory), '--out', join(dir, 'r.json')]);
    expect(badDelegation.code).toBe(2);
    expect(badDelegation.err).toBe(
      `threshold-agency: --delegation: cannot read ${directory} (EISDIR: illegal operation on a directory)\n`,
    );
  });

  it('prints help for every command', async () => {
    for (const command of ['keygen', 'delegate', 'request', 'revoke']) {
      const out: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        out.push(String(chunk));
        return true;
      });
      try {
        expect(
          await main([command, '--help'], { out: () => undefined, now: () => Date.now() }),
        ).toBe(0);
      } finally {
        spy.mockRestore();
      }
      expect(out.join('')).toContain(`Usage: threshold-agency ${command}`);
    }
  });
});
