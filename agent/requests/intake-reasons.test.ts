import nacl from 'tweetnacl';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWorld,
  DEVICE,
  DEVICE_TOPIC,
  START,
  type World,
  type WorldOptions,
} from '../test-support/intake-world.js';
import {
  buildDelegation,
  buildRevocations,
  requestTopics,
  signRequestPayload,
  subscriptionTopics,
} from './build.js';
import { MAX_ENVELOPE_BYTES, REJECT_REASONS, type RejectReason } from './protocol.js';

/**
 * Every reason code, triggered by a message built for it: the result names the reason,
 * the audit log gains exactly one entry with that reason, and no other table changes.
 */

const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface Message {
  topic: string;
  bytes: Buffer;
}

interface Case {
  options?: WorldOptions;
  /** Prepares state (before the snapshot) and returns the message to refuse. */
  make(world: World): Promise<Message>;
}

const at = (bytes: Buffer, topic = DEVICE_TOPIC): Message => ({ topic, bytes });

function payloadOf(world: World, overrides: Record<string, unknown>): Record<string, unknown> {
  const built = world.request();
  const payload = JSON.parse(Buffer.from(built.envelope.payload, 'base64').toString('utf8'));
  return { ...payload, ...overrides };
}

function delegation(world: World, overrides: Partial<Parameters<typeof buildDelegation>[0]>) {
  return buildDelegation({
    rootSecretKeys: world.roots.slice(0, 2).map((root) => root.secretKey),
    agencyId: 'metro-pd',
    name: 'Metro Police Department',
    signingKey: world.agency.publicKey,
    regions: ['u33'],
    maxRadiusM: 5000,
    maxWindowS: DAY / 1000,
    notBefore: START - DAY,
    notAfter: START + 20 * DAY,
    ...overrides,
  });
}

const CASES: Record<RejectReason, Case> = {
  requests_off: {
    options: { policy: { requestsOff: true } },
    make: async (w) => at(w.request().bytes),
  },
  too_large: {
    make: async (w) => at(Buffer.concat([w.request().bytes, Buffer.alloc(MAX_ENVELOPE_BYTES)])),
  },
  not_json: { make: async () => at(Buffer.from('{"payloadType": "application/vnd')) },
  schema: {
    make: async (w) => at(Buffer.from(JSON.stringify({ ...w.request().envelope, extra: 1 }))),
  },
  unsupported_version: {
    make: async (w) =>
      at(signRequestPayload(payloadOf(w, { v: 2 }), w.agency.secretKey, w.delegation).bytes),
  },
  wrong_topic: {
    make: async (w) => {
      // A cell the device listens on, but which the request's 100 m area does not touch.
      const other = subscriptionTopics(DEVICE, 800).find((topic) => topic !== DEVICE_TOPIC);
      if (!other) throw new Error('the device should listen on more than one cell');
      return at(w.request().bytes, other);
    },
  },
  expired: {
    make: async (w) => at(w.request({ issuedAt: START - DAY, expiresAt: START }).bytes),
  },
  not_yet_valid: {
    make: async (w) => at(w.request({ issuedAt: START + 301_000 }).bytes),
  },
  duplicate: {
    make: async (w) => {
      const built = w.request();
      const first = await w.intake.handleRequest(DEVICE_TOPIC, built.bytes);
      expect(first.kind).toBe('pending');
      return at(built.bytes);
    },
  },
  delegation_invalid: {
    make: async (w) => {
      const oneRoot = buildDelegation({
        rootSecretKeys: [w.roots[0]?.secretKey ?? new Uint8Array()],
        agencyId: 'metro-pd',
        name: 'Metro Police Department',
        signingKey: w.agency.publicKey,
        regions: ['u33'],
        maxRadiusM: 5000,
        maxWindowS: 86400,
        notBefore: START - DAY,
        notAfter: START + DAY,
      });
      return at(w.request({ delegation: oneRoot }).bytes);
    },
  },
  delegation_expired: {
    make: async (w) =>
      at(
        w.request({ delegation: delegation(w, { notBefore: START - 10 * DAY, notAfter: START }) })
          .bytes,
      ),
  },
  revoked: {
    make: async (w) => {
      const list = buildRevocations({
        rootSecretKeys: w.roots.slice(1, 3).map((root) => root.secretKey),
        version: 1,
        agencyIds: ['metro-pd'],
        issuedAt: START,
      });
      const outcome = await w.intake.handleRevocations(Buffer.from(JSON.stringify(list)));
      expect(outcome).toEqual({ kind: 'accepted', version: 1 });
      return at(w.request().bytes);
    },
  },
  bad_signature: {
    make: async (w) => at(w.request({ agencySecretKey: forgerKeyWithSameId(w) }).bytes),
  },
  out_of_region: {
    make: async (w) =>
      at(w.request({ delegation: delegation(w, { regions: ['u32', 'u33c'] }) }).bytes),
  },
  out_of_area: {
    // 2 km east of the device, in the same cell.
    make: async (w) =>
      at(w.request({ area: { lat: DEVICE.lat, lon: DEVICE.lon + 0.03, radiusM: 500 } }).bytes),
  },
  radius_too_large: {
    make: async (w) => at(w.request({ area: { ...DEVICE, radiusM: 801 } }).bytes),
  },
  window_too_long: {
    make: async (w) =>
      at(w.request({ window: { start: START - 13 * HOUR - 1, end: START - HOUR } }).bytes),
  },
  window_beyond_retention: {
    // Footage starts at START - 2 h; a window ending exactly there cannot match any.
    make: async (w) =>
      at(w.request({ window: { start: START - 5 * HOUR, end: START - 2 * HOUR } }).bytes),
  },
  agency_blocked: {
    options: { policy: { blockedAgencies: ['other', 'metro-pd'] } },
    make: async (w) => at(w.request().bytes),
  },
  rate_limited: {
    make: async (w) => {
      for (let i = 0; i < 3; i += 1) {
        expect((await w.intake.handleRequest(DEVICE_TOPIC, w.request().bytes)).kind).toBe(
          'pending',
        );
      }
      return at(w.request().bytes);
    },
  },
};

/**
 * The agency's real key id on the envelope, signed with another key: the signature is
 * checked (not skipped for a wrong hint) and fails.
 */
function forgerKeyWithSameId(w: World): Uint8Array {
  const forger = nacl.sign.keyPair();
  const secret = new Uint8Array(64);
  secret.set(forger.secretKey.subarray(0, 32));
  // tweetnacl takes the public half from the secret key: the hint names the agency's key.
  secret.set(w.agency.publicKey, 32);
  return secret;
}

describe('intake refuses with the first failing check', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('has a case for every reason code', () => {
    expect(Object.keys(CASES).sort()).toEqual([...REJECT_REASONS].sort());
  });

  for (const reason of REJECT_REASONS) {
    it(`${reason}: refused, audited, nothing else changed`, async () => {
      const spec = CASES[reason];
      world = await createWorld(spec.options);
      await world.record(START - 2 * HOUR, START);
      const message = await spec.make(world);
      const before = await world.snapshot();
      const auditBefore = (await world.audit.entries()).length;

      const result = await world.intake.handleRequest(message.topic, message.bytes);

      expect(result.kind).toBe('rejected');
      expect(result.kind === 'rejected' && result.reason).toBe(reason);
      expect(await world.snapshot()).toEqual(before);
      const entries = await world.audit.entries();
      expect(entries).toHaveLength(auditBefore + 1);
      expect(entries.at(-1)).toMatchObject({ kind: 'request_refused', reason });
      expect(await world.audit.verify()).toEqual({ ok: true, count: auditBefore + 1 });
    });
  }

  it('rate_limited also holds the number of pending requests to policy.maxPending', async () => {
    world = await createWorld({ policy: { maxPending: 2, maxPromptsPerAgencyPerWeek: 10 } });
    await world.record(START - 2 * HOUR, START);
    for (let i = 0; i < 2; i += 1) {
      expect((await world.intake.handleRequest(DEVICE_TOPIC, world.request().bytes)).kind).toBe(
        'pending',
      );
    }
    const before = await world.snapshot();
    const third = await world.intake.handleRequest(DEVICE_TOPIC, world.request().bytes);
    expect(third).toMatchObject({ kind: 'rejected', reason: 'rate_limited' });
    expect(await world.snapshot()).toEqual(before);
    // A decision frees a place.
    const pending = await world.store.list({ all: false });
    await world.store.decline(pending[0]?.id ?? '');
    expect((await world.intake.handleRequest(DEVICE_TOPIC, world.request().bytes)).kind).toBe(
      'pending',
    );
  });

  it('counts prompts per agency over 7 days, declined ones included', async () => {
    world = await createWorld();
    await world.record(START - 2 * HOUR, START);
    for (let i = 0; i < 3; i += 1) {
      const result = await world.intake.handleRequest(DEVICE_TOPIC, world.request().bytes);
      if (result.kind !== 'pending') throw new Error(`expected pending, got ${result.kind}`);
      await world.store.decline(result.requestId);
    }
    expect(await world.intake.handleRequest(DEVICE_TOPIC, world.request().bytes)).toMatchObject({
      reason: 'rate_limited',
    });
    world.clock.advance(7 * DAY + 1000);
    await world.record(world.clock.now() - 2 * HOUR, world.clock.now());
    expect((await world.intake.handleRequest(DEVICE_TOPIC, world.request().bytes)).kind).toBe(
      'pending',
    );
  });

  it('a request published to every cell its area touches is accepted on the device cell', async () => {
    world = await createWorld();
    await world.record(START - 2 * HOUR, START);
    const area = { ...DEVICE, radiusM: 800 };
    const topics = requestTopics(area);
    expect(topics).toContain(DEVICE_TOPIC);
    const built = world.request({ area });
    const results = [];
    for (const topic of topics) results.push(await world.intake.handleRequest(topic, built.bytes));
    expect(results.filter((r) => r.kind === 'pending')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'rejected' && r.reason === 'duplicate')).toHaveLength(
      topics.length - 1,
    );
  });
});
