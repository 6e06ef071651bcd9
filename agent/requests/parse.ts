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
  const json = parseJsonBytes(message);
  if (json === undefined) return { kind: 'rejected', reason: 'not_json' };

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
