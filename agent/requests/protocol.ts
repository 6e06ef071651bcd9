import { z } from 'zod';

/**
 * The community request protocol, version 1 (DESIGN.md, "Community request protocol").
 * These schemas are the edge: every byte from the broker is judged by them before any
 * other code looks at it. Objects are strict (an unknown key is refused), strings are
 * bounded, base64 must be canonical, and times are ISO-8601 UTC that name a real instant.
 */

export const REQUEST_PAYLOAD_TYPE = 'application/vnd.threshold.request+json; version=1';
export const DELEGATION_PAYLOAD_TYPE = 'application/vnd.threshold.delegation+json; version=1';
export const REVOCATION_PAYLOAD_TYPE = 'application/vnd.threshold.revocations+json; version=1';
export const REQUEST_TOPIC_PREFIX = 'threshold/v1/requests/';
export const REVOCATION_TOPIC = 'threshold/v1/trust/revocations';

/** A request message larger than this is refused before it is parsed. */
export const MAX_ENVELOPE_BYTES = 16 * 1024;
/** A revocation list may name many agencies; still bounded before parsing. */
export const MAX_REVOCATION_BYTES = 256 * 1024;
/** A request is accepted up to this far before its `issuedAt` (clocks disagree). */
export const CLOCK_SKEW_MS = 300_000;
/** The longest validity of a delegation. */
export const MAX_DELEGATION_MS = 30 * 24 * 3600_000;
/** The longest validity of a request (`expiresAt - issuedAt`). */
export const MAX_REQUEST_VALIDITY_MS = 30 * 24 * 3600_000;
/** Geohash length of the request topics. */
export const TOPIC_GEOHASH_LENGTH = 4;
/** The largest radius a request may name at all; policy and delegation narrow it. */
export const MAX_AREA_RADIUS_M = 50_000;

/** Why a request was refused, in the order the checks run (cheapest first). */
export const REJECT_REASONS = [
  'requests_off',
  'too_large',
  'not_json',
  'schema',
  'unsupported_version',
  'wrong_topic',
  'expired',
  'not_yet_valid',
  'duplicate',
  'delegation_invalid',
  'delegation_expired',
  'revoked',
  'bad_signature',
  'out_of_region',
  'out_of_area',
  'radius_too_large',
  'window_too_long',
  'window_beyond_retention',
  'agency_blocked',
  'rate_limited',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

// --- building blocks -------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Canonical base64 (RFC 4648 §4, padded, no stray bits), decoding to `bytes` if given. */
export function isCanonicalBase64(value: string, bytes?: number): boolean {
  if (!BASE64.test(value)) return false;
  const decoded = Buffer.from(value, 'base64');
  if (bytes !== undefined && decoded.length !== bytes) return false;
  return decoded.toString('base64') === value;
}

const base64 = (maxChars: number) =>
  z
    .string()
    .max(maxChars)
    .refine((value) => isCanonicalBase64(value), { message: 'must be canonical base64' });

const base64Bytes = (bytes: number) =>
  z
    .string()
    .max(Math.ceil(bytes / 3) * 4)
    .refine((value) => isCanonicalBase64(value, bytes), {
      message: `must be canonical base64 of ${bytes} bytes`,
    });

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

/** Milliseconds for an ISO-8601 UTC time that names a real instant, else undefined. */
export function parseIsoUtc(value: string): number | undefined {
  const match = ISO_UTC.exec(value);
  if (!match) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return undefined;
  // Date.parse rolls 2026-02-31 over into March: require the fields to survive the trip.
  const back = new Date(ms).toISOString();
  if (back.slice(0, 19) !== value.slice(0, 19)) return undefined;
  return ms;
}

/** An ISO-8601 UTC time on the wire, milliseconds once parsed. */
const isoTime = z
  .string()
  .max(30)
  .transform((value, ctx) => {
    const ms = parseIsoUtc(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 UTC time' });
      return z.NEVER;
    }
    return ms;
  });

/** Writes milliseconds the way the protocol carries them. */
export function toIsoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * C0 and C1 controls and the bidirectional overrides: text the owner reads must not
 * rewrite a terminal or reorder what the owner sees. Tab and newline only where allowed.
 */
export function hasUnsafeCharacters(value: string, allowTabAndNewline: boolean): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (allowTabAndNewline && (code === 0x09 || code === 0x0a)) continue;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true;
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) return true;
  }
  return false;
}

const text = (max: number, min = 1) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((value) => !hasUnsafeCharacters(value, false), {
      message: 'must not hold control characters',
    });

const multilineText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => !hasUnsafeCharacters(value, true), {
      message: 'must not hold control characters other than tab and newline',
    });

export const AGENCY_ID = /^[A-Za-z0-9._-]{1,64}$/;
export const INVESTIGATION_CODE = /^[A-Za-z0-9._/-]{1,64}$/;
export const GEOHASH_PREFIX = /^[0-9b-hjkmnp-z]{1,8}$/;
const REQUEST_ID = /^[A-Za-z0-9_-]{22}$/;

const agencyId = z.string().regex(AGENCY_ID);

/** 16 random bytes, base64url without padding: exactly 22 characters, canonical. */
const requestId = z
  .string()
  .regex(REQUEST_ID)
  .refine((value) => Buffer.from(value, 'base64url').toString('base64url') === value, {
    message: 'must be 16 bytes in canonical base64url',
  });

/** The request id validator, for the other edges that carry an id (upload metadata). */
export const requestIdSchema = requestId;
/** The agency id validator, for the owner's page (blocking an agency). */
export const agencyIdSchema = agencyId;

const httpsUrl = z
  .string()
  .max(2048)
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'https:' && url.hostname !== '' && !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { message: 'must be an https URL without credentials' },
  );

// --- envelopes (DSSE, with the agency's delegation beside the request) -----------------

const signature = z.strictObject({
  keyid: z.string().regex(/^[0-9a-f]{0,128}$/),
  sig: base64Bytes(64),
});

/** A DSSE envelope carrying a signed statement by the trust roots. */
export const signedStatementSchema = z.strictObject({
  payloadType: z.string().max(128),
  payload: base64(MAX_REVOCATION_BYTES),
  signatures: z.array(signature).min(1).max(16),
});

/** The message on a request topic: the request, signed by the agency, and its delegation. */
export const requestEnvelopeSchema = z.strictObject({
  payloadType: z.string().regex(/^application\/vnd\.threshold\.request\+json; version=\d{1,4}$/),
  payload: base64(MAX_ENVELOPE_BYTES),
  signatures: z.array(signature).min(1).max(4),
  delegation: signedStatementSchema,
});
export type RequestEnvelope = z.infer<typeof requestEnvelopeSchema>;

/** The part of a payload every version shares: enough to tell the version. */
export const versionHeaderSchema = z.looseObject({ v: z.number().int().min(0) });

// --- the request (DESIGN.md, "Request payload") ---------------------------------------

export const requestPayloadSchema = z
  .strictObject({
    v: z.literal(1),
    id: requestId,
    agencyId,
    investigationCode: z.string().regex(INVESTIGATION_CODE),
    title: text(120),
    description: multilineText(2000),
    area: z.strictObject({
      lat: z.number().min(-90).max(90),
      lon: z.number().min(-180).max(180),
      radiusM: z.number().positive().max(MAX_AREA_RADIUS_M),
    }),
    window: z.strictObject({ start: isoTime, end: isoTime }),
    issuedAt: isoTime,
    expiresAt: isoTime,
    recipient: z.strictObject({ boxPublicKey: base64Bytes(32) }),
    upload: z.strictObject({ url: httpsUrl }),
    contact: z
      .strictObject({
        name: text(120).optional(),
        phone: z
          .string()
          .regex(/^[0-9+() .-]{3,40}$/)
          .optional(),
        email: z
          .string()
          .max(254)
          .regex(/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u)
          .optional(),
      })
      .optional(),
  })
  .refine((request) => request.window.start < request.window.end, {
    message: 'window.start must be before window.end',
    path: ['window'],
  })
  .refine(
    (request) =>
      request.issuedAt < request.expiresAt &&
      request.expiresAt - request.issuedAt <= MAX_REQUEST_VALIDITY_MS,
    { message: 'expiresAt must follow issuedAt by at most 30 days', path: ['expiresAt'] },
  );
/** A request as parsed: times in ms since the epoch. */
export type RequestPayload = z.infer<typeof requestPayloadSchema>;
/** A request as written on the wire (ISO-8601 times). */
export type RequestPayloadJson = z.input<typeof requestPayloadSchema>;

// --- delegation and revocations (signed by the trust roots) ---------------------------

export const delegationPayloadSchema = z
  .strictObject({
    v: z.literal(1),
    agencyId,
    name: text(120),
    /** The agency's Ed25519 public key, base64 of 32 bytes. */
    signingKey: base64Bytes(32),
    /** Geohash prefixes; a request's whole area must lie within their union. */
    regions: z.array(z.string().regex(GEOHASH_PREFIX)).min(1).max(64),
    maxRadiusM: z.number().positive().max(MAX_AREA_RADIUS_M),
    maxWindowS: z
      .number()
      .int()
      .positive()
      .max(30 * 24 * 3600),
    notBefore: isoTime,
    notAfter: isoTime,
  })
  .refine((d) => d.notBefore < d.notAfter && d.notAfter - d.notBefore <= MAX_DELEGATION_MS, {
    message: 'a delegation is valid for at most 30 days',
    path: ['notAfter'],
  });
export type Delegation = z.infer<typeof delegationPayloadSchema>;
export type DelegationJson = z.input<typeof delegationPayloadSchema>;

export const revocationPayloadSchema = z.strictObject({
  v: z.literal(1),
  /** Monotonic: a device keeps the highest version it has seen and ignores the rest. */
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  issuedAt: isoTime,
  agencyIds: z.array(agencyId).max(4096),
  /** Revoked agency signing keys, base64 of 32 bytes. */
  signingKeys: z.array(base64Bytes(32)).max(4096),
});
export type RevocationList = z.infer<typeof revocationPayloadSchema>;
export type RevocationListJson = z.input<typeof revocationPayloadSchema>;

/** One line naming the first problem zod found: path and message, never the value. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.').slice(0, 120);
  // An unknown key's name comes from the sender: say that there is one, not what it is.
  const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
  return `${path || '(root)'}: ${message}`.slice(0, 200);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON text in UTF-8 to a value; undefined when the bytes are not valid UTF-8 JSON. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    // Not UTF-8, not JSON, or nested deeper than the parser's stack: all "not JSON".
    return undefined;
  }
}
