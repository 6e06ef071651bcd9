import {
  describeIssue,
  MAX_ENVELOPE_BYTES,
  parseJsonBytes,
  REQUEST_PAYLOAD_TYPE,
  type RejectReason,
  type RequestEnvelope,
  type RequestPayload,
  requestEnvelopeSchema,
  requestPayloadSchema,
  versionHeaderSchema,
} from './protocol.js';

/**
 * The stateless first checks on a request message, in the design's order: `too_large`
 * (before a byte is parsed), `not_json` (the message is not UTF-8 JSON), `schema`,
 * `unsupported_version`.
 *
 * `schema` covers two places: the envelope and whatever every payload version shares
 * (a JSON object with an integer `v`) come before the version check, since the version
 * cannot be read without them; the version 1 payload's own shape comes after it, since
 * a later version may change that shape. Both are refused as `schema`.
 *
 * The zod schemas of protocol.ts decide what is accepted. Two pre-checks in front of them
 * refuse the commonest junk of a flood without the cost of a thrown SyntaxError or of a
 * failed schema's error object; each refuses only what the full check would refuse for
 * the same reason (parse.test.ts checks that against the full path), and whatever they
 * let through is judged by the full path.
 */

export interface ParsedRequest {
  envelope: RequestEnvelope;
  payload: RequestPayload;
  /** The exact payload bytes the signature covers. */
  payloadBytes: Buffer;
  /** The message exactly as received. */
  message: Buffer;
}

export type ParseResult =
  | { kind: 'ok'; request: ParsedRequest }
  | {
      kind: 'rejected';
      reason: RejectReason;
      problem?: string;
      /** The id the payload claims, when it looks like one; never authenticated. */
      claimedId?: string;
    };

const CLAIMED_ID = /^[A-Za-z0-9_-]{22}$/;

export function parseRequestMessage(message: Buffer): ParseResult {
  if (message.length > MAX_ENVELOPE_BYTES) return { kind: 'rejected', reason: 'too_large' };
  if (cannotBeJson(message)) return { kind: 'rejected', reason: 'not_json' };
  const json = parseJsonBytes(message);
  if (json === undefined) return { kind: 'rejected', reason: 'not_json' };

  const misshapen = envelopeShapeProblem(json);
  if (misshapen) return { kind: 'rejected', reason: 'schema', problem: misshapen };
  const envelope = requestEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return { kind: 'rejected', reason: 'schema', problem: describeIssue(envelope.error) };
  }
  const payloadBytes = Buffer.from(envelope.data.payload, 'base64');
  const body = parseJsonBytes(payloadBytes);
  const header = versionHeaderSchema.safeParse(body);
  if (!header.success) {
    return { kind: 'rejected', reason: 'schema', problem: 'payload: not a JSON object with v' };
  }
  const claimed = header.data.id;
  const claimedId = typeof claimed === 'string' && CLAIMED_ID.test(claimed) ? claimed : undefined;
  const withId = claimedId ? { claimedId } : {};

  if (envelope.data.payloadType !== REQUEST_PAYLOAD_TYPE || header.data.v !== 1) {
    return { kind: 'rejected', reason: 'unsupported_version', ...withId };
  }
  const payload = requestPayloadSchema.safeParse(body);
  if (!payload.success) {
    return {
      kind: 'rejected',
      reason: 'schema',
      problem: `payload.${describeIssue(payload.error)}`,
      ...withId,
    };
  }
  return {
    kind: 'ok',
    request: { envelope: envelope.data, payload: payload.data, payloadBytes, message },
  };
}

/** JSON whitespace (RFC 8259 §2). */
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
/**
 * Bytes a JSON text can start with after its whitespace (RFC 8259 §2-7: an object, array,
 * string, number, true, false or null), and 0xEF, the first byte of a UTF-8 byte order
 * mark, which the decoder drops.
 */
const JSON_START = new Set([...'{["-0123456789tfn'].map((c) => c.charCodeAt(0)).concat(0xef));

/**
 * True when the bytes cannot be JSON, judged by their first byte that is not whitespace
 * (or because there is none). False means "maybe": the full parse decides.
 */
export function cannotBeJson(message: Uint8Array): boolean {
  for (let i = 0; i < message.length; i += 1) {
    const byte = message[i] as number;
    if (!JSON_SPACE.has(byte)) return !JSON_START.has(byte);
  }
  return true;
}

/** The envelope's members (DESIGN.md, "Envelope") and the JSON type each must have. */
const ENVELOPE_MEMBERS: Readonly<Record<string, JsonType>> = {
  payloadType: 'string',
  payload: 'string',
  signatures: 'array',
  delegation: 'object',
};
const A_TYPE: Readonly<Record<JsonType, string>> = {
  string: 'a string',
  array: 'an array',
  object: 'an object',
};

/**
 * Why `json` cannot be a request envelope, judged by its members' presence and JSON types
 * alone; undefined when the envelope schema has to decide. Whatever is named here also
 * fails `requestEnvelopeSchema`, a strict object of exactly these members.
 */
export function envelopeShapeProblem(json: unknown): string | undefined {
  if (jsonType(json) !== 'object') return '(root): must be an object';
  const envelope = json as Record<string, unknown>;
  for (const [name, type] of Object.entries(ENVELOPE_MEMBERS)) {
    if (!Object.hasOwn(envelope, name)) return `${name}: missing`;
    if (jsonType(envelope[name]) !== type) return `${name}: must be ${A_TYPE[type]}`;
  }
  for (const name in envelope) {
    if (!Object.hasOwn(ENVELOPE_MEMBERS, name)) return '(root): unknown key';
  }
  return undefined;
}

type JsonType = 'string' | 'array' | 'object';

function jsonType(value: unknown): JsonType | 'null' | 'number' | 'boolean' | 'other' {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  const type = typeof value;
  return type === 'string' || type === 'object' || type === 'number' || type === 'boolean'
    ? type
    : 'other';
}
