import { generateKeyPairSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, pae } from '../crypto/dsse.js';
import { ed25519Sign } from '../crypto/ed25519.js';
import { createWorld, DEVICE_TOPIC, START, type World } from '../test-support/intake-world.js';
import type { IntakeResult } from './intake.js';
import { REJECT_REASONS, REQUEST_PAYLOAD_TYPE } from './protocol.js';

/**
 * Fuzzing the intake with fast-check: random messages, then structure-aware mutations of
 * a valid envelope. Nothing may be accepted, nothing may throw, every refusal names a
 * reason from the fixed list, and memory stays flat. The seed is printed; rerun one with
 * FUZZ_SEED=<seed>. Messages are judged 1,000 at a time (overlapping calls, as the MQTT
 * service makes them), so the audit log's group commit keeps the run to tens of seconds.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RANDOM_RUNS = Number(process.env.FUZZ_RANDOM_RUNS ?? 100_000);
const MUTATION_RUNS = Number(process.env.FUZZ_MUTATION_RUNS ?? 10_000);
const CHUNK = 1000;
const HOUR = 3600_000;
const REASONS = new Set<string>(REJECT_REASONS);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

/**
 * Random messages: bytes, JSON values, envelope-shaped objects of random parts, and
 * requests whose fields are each valid or random, signed (node:crypto, for speed) by a
 * key the device does not trust, so that some get as far as the signature check.
 */
function randomMessages(world: World): fc.Arbitrary<Buffer> {
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const base = JSON.parse(Buffer.from(world.request().envelope.payload, 'base64').toString('utf8'));
  const iso = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  const field = <T>(valid: unknown, random: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: fc.constant(valid), weight: 9 }, { arbitrary: random, weight: 1 });
  const requestLike = fc.record(
    {
      v: field(1, fc.integer()),
      id: field(base.id, fc.oneof(fc.base64String({ minLength: 22, maxLength: 24 }), fc.string())),
      agencyId: field('metro-pd', fc.string()),
      investigationCode: field(base.investigationCode, fc.string()),
      title: field(base.title, fc.string()),
      description: field(base.description, fc.string()),
      area: field(
        base.area,
        fc.record({ lat: fc.double(), lon: fc.double(), radiusM: fc.double() }),
      ),
      window: field(base.window, fc.record({ start: fc.oneof(iso, fc.string()), end: iso })),
      issuedAt: field(base.issuedAt, iso),
      expiresAt: field(base.expiresAt, iso),
      recipient: field(base.recipient, fc.record({ boxPublicKey: fc.string() })),
      upload: field(
        base.upload,
        fc.record({
          // Not fc.webUrl(): its tables take ~80 MB on first use, which would swamp the
          // memory measurement.
          url: fc.oneof(
            fc.constantFrom('http://x.example/', 'https://u:p@x.example/', 'https://', 'ftp://x/'),
            fc.string(),
          ),
        }),
      ),
      contact: field(base.contact, anyJson),
    },
    { requiredKeys: [] },
  );
  const signature = fc.record(
    {
      keyid: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)),
      sig: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map(b64), fc.string()),
    },
    { requiredKeys: [] },
  );
  const envelope = fc.record(
    {
      payloadType: fc.oneof(fc.constant(REQUEST_PAYLOAD_TYPE), fc.string()),
      payload: fc.oneof(
        requestLike.map((p) => json(p).toString('base64')),
        fc.string(),
      ),
      signatures: fc.oneof(fc.array(signature, { maxLength: 5 }), anyJson),
      delegation: fc.oneof(fc.constant(world.delegation), anyJson),
      extra: anyJson,
    },
    { requiredKeys: [] },
  );
  const stranger = generateKeyPairSync('ed25519');
  // The stranger signs under the agency's key id: the signature is checked, and fails.
  const keyid = keyIdOf(world.agency.publicKey);
  const signedLike = requestLike.map((payload) => {
    const payloadBytes = json(payload);
    const sig = ed25519Sign(pae(REQUEST_PAYLOAD_TYPE, payloadBytes), stranger.privateKey);
    return json({
      payloadType: REQUEST_PAYLOAD_TYPE,
      payload: payloadBytes.toString('base64'),
      signatures: [{ keyid, sig: sig.toString('base64') }],
      delegation: world.delegation,
    });
  });
  return fc.oneof(
    fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
    anyJson.map(json),
    envelope.map(json),
    signedLike,
  );
}

/** One step of a mutation plan; several steps compose. */
const step = fc.record({
  op: fc.nat({ max: 13 }),
  n: fc.nat(),
  value: fc.jsonValue({ maxDepth: 2 }),
  hex: fc.stringMatching(/^[0-9a-f]{0,64}$/),
});
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

const PAYLOAD_PATHS = [
  ['v'],
  ['id'],
  ['agencyId'],
  ['investigationCode'],
  ['title'],
  ['description'],
  ['area', 'lat'],
  ['area', 'lon'],
  ['area', 'radiusM'],
  ['window', 'start'],
  ['window', 'end'],
  ['issuedAt'],
  ['expiresAt'],
  ['recipient', 'boxPublicKey'],
  ['upload', 'url'],
  ['contact', 'name'],
  ['contact', 'email'],
];
const DELEGATION_PATHS = [
  ['v'],
  ['agencyId'],
  ['name'],
  ['signingKey'],
  ['regions'],
  ['maxRadiusM'],
  ['maxWindowS'],
  ['notBefore'],
  ['notAfter'],
];

type Json = Record<string, unknown>;

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node: Json = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) return;
    node = next as Json;
  }
  const last = path.at(-1);
  if (last !== undefined) node[last] = value;
}

/** A near miss for a value: numbers nudged, strings changed by one character. */
function nudge(value: unknown, s: Step): unknown {
  if (typeof value === 'number') return value + (s.n % 2 === 0 ? 1e-6 : 1);
  if (typeof value === 'string' && value.length > 0) {
    const i = s.n % value.length;
    return value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
  }
  return s.value;
}

function getPath(target: Json, path: readonly string[]): unknown {
  let node: unknown = target;
  for (const key of path)
    node = typeof node === 'object' && node !== null ? (node as Json)[key] : undefined;
  return node;
}

const decode = (field: unknown): Json =>
  JSON.parse(Buffer.from(String(field), 'base64').toString('utf8'));

/** Applies one step to a message; structural steps fall back to a bit flip when it no longer parses. */
function mutate(bytes: Buffer, s: Step): Buffer {
  const flip = (buf: Buffer) => {
    const out = Buffer.from(buf);
    if (out.length > 0) out[s.n % out.length] = (out[s.n % out.length] ?? 0) ^ (1 << (s.n % 8));
    return out;
  };
  let env: Json;
  try {
    env = JSON.parse(bytes.toString('utf8')) as Json;
    const delegation = env.delegation as Json;
    const sigs = env.signatures as Json[];
    const dsigs = delegation.signatures as Json[];
    switch (s.op) {
      case 0: // a bit of the signed payload
        env.payload = flip(Buffer.from(String(env.payload), 'base64')).toString('base64');
        break;
      case 1: {
        // one payload field set to another value or a near miss
        const payload = decode(env.payload);
        const path = PAYLOAD_PATHS[s.n % PAYLOAD_PATHS.length] ?? ['v'];
        setPath(payload, path, s.n % 3 === 0 ? s.value : nudge(getPath(payload, path), s));
        env.payload = json(payload).toString('base64');
        break;
      }
      case 2: {
        // a payload field removed, or one added
        const payload = decode(env.payload);
        const key = PAYLOAD_PATHS[s.n % PAYLOAD_PATHS.length]?.[0] ?? 'v';
        if (s.n % 2 === 0) delete payload[key];
        else payload[`x${s.hex}`] = s.value;
        env.payload = json(payload).toString('base64');
        break;
      }
      case 3: // a bit of the request signature
        (sigs[0] as Json).sig = flip(Buffer.from(String(sigs[0]?.sig), 'base64')).toString(
          'base64',
        );
        break;
      case 4: // the key id hint
        (sigs[0] as Json).keyid = s.hex;
        break;
      case 5: // a bit of the delegation
        delegation.payload = flip(Buffer.from(String(delegation.payload), 'base64')).toString(
          'base64',
        );
        break;
      case 6: {
        // a delegation field
        const d = decode(delegation.payload);
        const path = DELEGATION_PATHS[s.n % DELEGATION_PATHS.length] ?? ['v'];
        setPath(d, path, s.n % 3 === 0 ? s.value : nudge(getPath(d, path), s));
        delegation.payload = json(d).toString('base64');
        break;
      }
      case 7: {
        // a root signature: a bit flipped, or replaced by the other one
        const i = s.n % dsigs.length;
        if (s.n % 2 === 0) {
          (dsigs[i] as Json).sig = flip(Buffer.from(String(dsigs[i]?.sig), 'base64')).toString(
            'base64',
          );
        } else {
          dsigs[i] = { ...(dsigs[(i + 1) % dsigs.length] as Json) };
        }
        break;
      }
      case 8: // a root's key id hint
        (dsigs[s.n % dsigs.length] as Json).keyid = s.hex;
        break;
      case 9: // the payload type
        env.payloadType = s.n % 2 === 0 ? String(s.value) : REQUEST_PAYLOAD_TYPE.replace('1', '2');
        break;
      case 10: {
        // a top-level key removed, replaced, or added
        const keys = Object.keys(env);
        const key = keys[s.n % keys.length] ?? 'payload';
        if (s.n % 3 === 0) delete env[key];
        else if (s.n % 3 === 1) env[key] = s.value;
        else env[`x${s.hex}`] = s.value;
        break;
      }
      case 11: // the request signed twice over: an extra signature by a stranger
        sigs.push({ keyid: s.hex, sig: b64(nacl.randomBytes(64)) });
        (sigs[0] as Json).sig = b64(nacl.randomBytes(64));
        break;
      case 12:
        return bytes.subarray(0, s.n % bytes.length);
      default:
        return flip(bytes);
    }
  } catch {
    // The message no longer has the structure this step needs: flip a bit instead.
    return flip(bytes);
  }
  return json(env);
}

describe('intake fuzz', () => {
  let world: World;
  let valid: Buffer;
  beforeAll(async () => {
    console.log(`fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    world = await createWorld();
    await world.record(START - 2 * HOUR, START);
    valid = world.request().bytes;
  });
  afterAll(async () => {
    await world.close();
  });

  async function judgeAll(
    messages: readonly Buffer[],
    label: string,
  ): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (let i = 0; i < messages.length; i += CHUNK) {
      const chunk = messages.slice(i, i + CHUNK);
      const results: IntakeResult[] = await Promise.all(
        chunk.map((bytes) => world.intake.handleRequest(DEVICE_TOPIC, bytes)),
      );
      results.forEach((result, j) => {
        if (result.kind !== 'rejected' || !REASONS.has(result.reason)) {
          const bytes = chunk[j]?.toString('base64').slice(0, 2000);
          throw new Error(`${label}: seed ${SEED}: ${JSON.stringify(result)} for ${bytes}`);
        }
        counts.set(result.reason, (counts.get(result.reason) ?? 0) + 1);
      });
    }
    return counts;
  }

  it(`${RANDOM_RUNS} random messages: none accepted, each refused with a listed reason`, async () => {
    const heapBefore = heapMb();
    const started = performance.now();
    const arbitrary = randomMessages(world);
    let judged = 0;
    const counts = new Map<string, number>();
    for (let chunk = 0; judged < RANDOM_RUNS; chunk += 1) {
      const n = Math.min(10 * CHUNK, RANDOM_RUNS - judged);
      const messages = fc.sample(arbitrary, { seed: SEED + chunk, numRuns: n });
      for (const [reason, count] of await judgeAll(messages, 'random')) {
        counts.set(reason, (counts.get(reason) ?? 0) + count);
      }
      judged += n;
      if (process.env.FUZZ_TRACE) console.log(judged, heapMb().toFixed(1));
    }
    const growth = heapMb() - heapBefore;
    console.log(
      JSON.stringify({
        random: judged,
        seconds: Math.round((performance.now() - started) / 100) / 10,
        heapGrowthMb: Math.round(growth * 10) / 10,
        reasons: Object.fromEntries(counts),
      }),
    );
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(RANDOM_RUNS);
    expect(growth).toBeLessThan(20);
  }, 300_000);

  it(`${MUTATION_RUNS} mutations of a valid envelope: none accepted; the original then is`, async () => {
    const started = performance.now();
    const plans = fc.sample(fc.array(step, { minLength: 1, maxLength: 3 }), {
      seed: SEED ^ 0x5eed,
      numRuns: MUTATION_RUNS,
    });
    const messages = plans
      .map((plan) => plan.reduce((bytes, s) => mutate(bytes, s), valid))
      .filter((bytes) => !bytes.equals(valid));
    // Measured with the inputs already made, so only what judging keeps counts.
    const heapBefore = heapMb();
    const counts = await judgeAll(messages, 'mutation');
    const growth = heapMb() - heapBefore;
    console.log(
      JSON.stringify({
        mutations: messages.length,
        unchanged: plans.length - messages.length,
        seconds: Math.round((performance.now() - started) / 100) / 10,
        heapGrowthMb: Math.round(growth * 10) / 10,
        reasons: Object.fromEntries(counts),
      }),
    );
    // Most plans change the message, and the signature check itself was reached often.
    expect(messages.length).toBeGreaterThan(MUTATION_RUNS * 0.95);
    expect(counts.get('bad_signature') ?? 0).toBeGreaterThan(MUTATION_RUNS / 20);
    expect(counts.get('delegation_invalid') ?? 0).toBeGreaterThan(MUTATION_RUNS / 20);
    expect(growth).toBeLessThan(20);
    // The unmutated envelope is acceptable: the refusals above were earned.
    expect((await world.intake.handleRequest(DEVICE_TOPIC, valid)).kind).toBe('pending');
  }, 300_000);
});
