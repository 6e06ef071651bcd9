import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cannotBeJson, envelopeShapeProblem, parseRequestMessage } from './parse.js';
import {
  MAX_ENVELOPE_BYTES,
  parseJsonBytes,
  REQUEST_PAYLOAD_TYPE,
  type RejectReason,
  requestEnvelopeSchema,
  requestPayloadSchema,
  versionHeaderSchema,
} from './protocol.js';

/**
 * The pre-checks in front of the schemas must never change a verdict: each message is
 * judged by `parseRequestMessage` and by the schemas alone (the reference below, the
 * checks of parse.ts without the pre-checks), and the reasons must agree.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const b64 = (text: string) => Buffer.from(text).toString('base64');
const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

const payload = {
  v: 1,
  id: Buffer.alloc(16, 2).toString('base64url'),
  agencyId: 'metro-pd',
  investigationCode: 'MPD-2026/0042',
  title: 'Burglary on Elm Street',
  description: 'A break-in.',
  area: { lat: 52.5, lon: 13.4, radiusM: 500 },
  window: { start: '2026-03-01T10:00:00Z', end: '2026-03-01T11:00:00Z' },
  issuedAt: '2026-03-01T12:00:00Z',
  expiresAt: '2026-03-02T12:00:00Z',
  recipient: { boxPublicKey: Buffer.alloc(32, 1).toString('base64') },
  upload: { url: 'https://evidence.example.org/files/' },
};
const signature = { keyid: 'ab'.repeat(32), sig: Buffer.alloc(64, 3).toString('base64') };
const envelope = {
  payloadType: REQUEST_PAYLOAD_TYPE,
  payload: b64(JSON.stringify(payload)),
  signatures: [signature],
  delegation: { payloadType: 'x', payload: 'AA==', signatures: [signature] },
};

/** What parse.ts decides with the schemas alone: the reference for the pre-checks. */
function referenceReason(message: Buffer): RejectReason | 'ok' {
  if (message.length > MAX_ENVELOPE_BYTES) return 'too_large';
  const value = parseJsonBytes(message);
  if (value === undefined) return 'not_json';
  const parsed = requestEnvelopeSchema.safeParse(value);
  if (!parsed.success) return 'schema';
  const body = parseJsonBytes(Buffer.from(parsed.data.payload, 'base64'));
  const header = versionHeaderSchema.safeParse(body);
  if (!header.success) return 'schema';
  if (parsed.data.payloadType !== REQUEST_PAYLOAD_TYPE || header.data.v !== 1) {
    return 'unsupported_version';
  }
  return requestPayloadSchema.safeParse(body).success ? 'ok' : 'schema';
}

const reasonOf = (message: Buffer) => {
  const result = parseRequestMessage(message);
  return result.kind === 'rejected' ? result.reason : 'ok';
};

/** Envelopes with members dropped, retyped, added or replaced by random JSON. */
const envelopeLike = fc.record(
  {
    payloadType: fc.oneof(fc.constant(REQUEST_PAYLOAD_TYPE), fc.jsonValue({ maxDepth: 1 })),
    payload: fc.oneof(fc.constant(envelope.payload), fc.jsonValue({ maxDepth: 1 })),
    signatures: fc.oneof(fc.constant([signature]), fc.jsonValue({ maxDepth: 2 })),
    delegation: fc.oneof(fc.constant(envelope.delegation), fc.jsonValue({ maxDepth: 2 })),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);

/** Text a JSON parser may or may not take: JSON with odd starts, and near-JSON. */
const textLike = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', ' ', '\t\n\r {}', 'tru', 'nul', '-', '"', '[', '\u00a0{}', '\ufeff{}'),
);
const messages = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc
    .tuple(fc.constantFrom('', ' ', '\n\t', '\ufeff', ' \ufeff', '\u00a0'), textLike)
    .map(([prefix, text]) => Buffer.from(prefix + text, 'utf8')),
  envelopeLike.map(json),
  fc.jsonValue({ maxDepth: 3 }).map(json),
);

describe('parse pre-checks', () => {
  it('tells junk from possible JSON by its first byte', () => {
    const junk = (text: string | Buffer) => cannotBeJson(Buffer.from(text));
    for (const text of ['', '   ', 'garbage', 'x{}', '\u00a0{}']) {
      expect(junk(text)).toBe(true);
    }
    // 0xEF may open a byte order mark: left to the parser, which refuses one after spaces.
    expect(junk(' \ufeff{}')).toBe(false);
    expect(reasonOf(Buffer.from(' \ufeff{}'))).toBe('not_json');
    expect(junk(Buffer.from([0xff, 0xfe, 0x7b]))).toBe(true);
    for (const text of ['{}', ' \n\t[1]', '"x"', 'null', 'true', 'false', '-1', '7', '\ufeff{}']) {
      expect(junk(text)).toBe(false);
    }
  });

  it('names what the envelope lacks or mistypes, and leaves the rest to the schema', () => {
    expect(envelopeShapeProblem(envelope)).toBeUndefined();
    expect(envelopeShapeProblem([envelope])).toBe('(root): must be an object');
    expect(envelopeShapeProblem({ ...envelope, delegation: undefined })).toBe(
      'delegation: must be an object',
    );
    const { delegation: _, ...noDelegation } = envelope;
    expect(envelopeShapeProblem(noDelegation)).toBe('delegation: missing');
    expect(envelopeShapeProblem({ ...envelope, signatures: {} })).toBe(
      'signatures: must be an array',
    );
    expect(envelopeShapeProblem({ ...envelope, payload: 5 })).toBe('payload: must be a string');
    expect(envelopeShapeProblem({ ...envelope, more: 1 })).toBe('(root): unknown key');
    // A member of the right type with a bad value is the schema's to judge.
    expect(envelopeShapeProblem({ ...envelope, payloadType: 'nope' })).toBeUndefined();
    expect(reasonOf(json({ ...envelope, payloadType: 'nope' }))).toBe('schema');
  });

  it('a shape problem is always a schema failure', () => {
    fc.assert(
      fc.property(fc.oneof(envelopeLike, fc.jsonValue({ maxDepth: 3 })), (value) => {
        if (envelopeShapeProblem(value) === undefined) return;
        expect(requestEnvelopeSchema.safeParse(value).success).toBe(false);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });

  it('never change a verdict (seed printed on failure)', () => {
    expect(reasonOf(json(envelope))).toBe('ok');
    fc.assert(
      fc.property(messages, (message) => {
        expect(reasonOf(message)).toBe(referenceReason(message));
      }),
      { seed: SEED, numRuns: 20_000 },
    );
  });
});
