import { Command } from 'commander';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { SystemClock } from '../../hal/linux/clock.js';
import { publishAll } from '../../scripts/agency/publish.js';
import { AUDIT_KINDS } from '../audit/audit-log.js';
import { registerDecline } from '../cli/commands/decline.js';
import { defaultContext } from '../cli/context.js';
import { loadClientState } from '../mqtt/client-state.js';
import { Mosquitto } from '../test-support/mosquitto.js';
import { waitFor } from '../test-support/poll.js';
import {
  createRequestWorld,
  DEVICE_LOCATION,
  type RequestWorld,
} from '../test-support/request-world.js';
import { requestTopics } from './build.js';
import { createRequestService } from './request-service.js';

/**
 * Promise 2, silence on decline: whatever arrives and whatever the owner does, the device
 * sends no PUBLISH. Mosquitto logs every packet with the sender's client id; the device's
 * id is read from its own state file.
 */

const log = pino({ level: 'silent' });
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) =>
  waitFor(check, { what, timeoutMs, intervalMs: 20 });

function messages(world: RequestWorld): { bytes: Buffer; topic?: string }[] {
  const now = Date.now();
  const out: { bytes: Buffer; topic?: string }[] = [];
  const valid = (overrides = {}) => world.request(overrides);
  for (let i = 0; i < 20; i++) out.push({ bytes: valid().bytes }); // accepted, later declined or kept
  for (let i = 0; i < 10; i++) out.push({ bytes: valid({ expiresAt: now + 2000 }).bytes }); // will expire
  for (let i = 0; i < 10; i++) {
    out.push({ bytes: valid({ window: { start: now + 60_000, end: now + 120_000 } }).bytes }); // no_footage
  }
  for (let i = 0; i < 20; i++) {
    const forged = JSON.parse(valid().bytes.toString()) as { signatures: { sig: string }[] };
    const sig = Buffer.from(forged.signatures[0]?.sig ?? '', 'base64');
    sig[0] = (sig[0] ?? 0) ^ 1;
    if (forged.signatures[0]) forged.signatures[0].sig = sig.toString('base64');
    out.push({ bytes: Buffer.from(JSON.stringify(forged)) }); // bad_signature
  }
  for (let i = 0; i < 10; i++) out.push({ bytes: Buffer.from(`not json ${i}`) });
  for (let i = 0; i < 10; i++) out.push({ bytes: Buffer.alloc(16 * 1024 + 100, 0x7b) }); // too_large
  for (let i = 0; i < 10; i++) {
    out.push({ bytes: valid({ issuedAt: now - 7200_000, expiresAt: now - 3600_000 }).bytes }); // expired
  }
  for (let i = 0; i < 10; i++) {
    out.push({ bytes: valid({ area: { ...DEVICE_LOCATION, radiusM: 1500 } }).bytes }); // radius_too_large
  }
  return out;
}

it('sends no PUBLISH over 100+ requests accepted, refused, expired and declined', async () => {
  const broker = await Mosquitto.start();
  cleanup.push(() => broker.stop());
  const world = await createRequestWorld({
    mqttUrl: broker.url,
    policy: { maxPromptsPerAgencyPerWeek: 1000, maxPending: 1000 },
  });
  cleanup.push(() => world.close());
  const service = createRequestService({
    config: world.config,
    db: world.db,
    clock: new SystemClock(),
    footage: world.footage,
    log,
    expiryIntervalMs: 100,
  });
  cleanup.push(() => service.stop());
  await service.start(new AbortController().signal);
  await until('subscribed', () => service.connection()?.state === 'ready');
  const deviceId = (await loadClientState(world.config.dataDir)).clientId;

  const batch = messages(world);
  const topics = requestTopics({ ...DEVICE_LOCATION, radiusM: 500 });
  // Redeliver five accepted requests: duplicates.
  const all = [...batch, ...batch.slice(0, 5)];
  await publishAll(
    { url: broker.url },
    all.map(({ bytes }) => ({ topic: topics[0] ?? '', payload: bytes, retain: false })),
  );
  // What intake decided, one entry per message. The ten short-lived requests may already
  // have expired on a loaded machine: their expiry entries are checked below, not here.
  const judged = async () =>
    (await service.audit.entries()).filter((e) => e.kind !== AUDIT_KINDS.requestExpired);
  await until('every message judged', async () => (await judged()).length >= all.length);
  const entries = await judged();
  expect(entries).toHaveLength(all.length);
  const reasons = new Map<string, number>();
  for (const entry of entries) {
    const key = entry.reason ?? entry.kind;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  expect(Object.fromEntries(reasons)).toEqual({
    request_accepted: 40,
    bad_signature: 20,
    not_json: 10,
    too_large: 10,
    expired: 10,
    radius_too_large: 10,
    duplicate: 5,
  });

  // The owner declines ten, one of them through the CLI; ten expire; ten stay pending.
  const pending = (await service.store.list({ all: false })).filter(
    (r) => r.expiresAt > Date.now() + 60_000,
  );
  for (const request of pending.slice(0, 9)) await service.store.decline(request.id);
  const viaCli = pending[9]?.id ?? '';
  const printed: string[] = [];
  const program = new Command('threshold').exitOverride();
  registerDecline(program, { ...defaultContext(), out: (text) => printed.push(text) });
  // `--`: a request id may begin with "-" (base64url), which would read as an option.
  await program.parseAsync(['decline', '--config', world.configPath, '--', viaCli], {
    from: 'user',
  });
  expect(printed.join('\n')).toContain('nothing was sent');
  await until('ten expired', async () => {
    const all = await service.store.list({ all: true });
    return all.filter((r) => r.state === 'expired').length === 10;
  });
  const states = (await service.store.list({ all: true })).map((r) => r.state);
  expect(states.filter((s) => s === 'declined')).toHaveLength(10);
  expect(states.filter((s) => s === 'pending')).toHaveLength(10);
  expect(states.filter((s) => s === 'no_footage')).toHaveLength(10);
  await service.stop();

  // The broker did deliver everything to the device (the check below is not vacuous)…
  const delivered = broker
    .logText()
    .split('\n')
    .filter((line) => line.includes(`Sending PUBLISH to ${deviceId} `));
  expect(delivered.length).toBeGreaterThanOrEqual(all.length);
  // …the log parser sees the agency's PUBLISH packets…
  expect(broker.publishes().filter((entry) => entry.clientId !== deviceId).length).toBe(all.length);
  // …and the device sent no PUBLISH, only session housekeeping.
  expect(broker.publishes().filter((entry) => entry.clientId === deviceId)).toEqual([]);
  const sent = new Set(
    broker
      .logText()
      .split('\n')
      .map((line) => new RegExp(`Received (\\S+) from ${deviceId}\\b`).exec(line)?.[1])
      .filter((kind): kind is string => kind !== undefined),
  );
  for (const kind of sent)
    expect(['SUBSCRIBE', 'UNSUBSCRIBE', 'PUBACK', 'PINGREQ', 'DISCONNECT']).toContain(kind);
  expect(sent.has('PUBACK')).toBe(true);
}, 60_000);
