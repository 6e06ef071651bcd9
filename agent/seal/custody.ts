import { readFile, stat } from 'node:fs/promises';
import type nacl from 'tweetnacl';
import { z } from 'zod';
import { type DsseEnvelope, signEnvelope, verifiedKeys } from '../crypto/dsse.js';
import { ThresholdError } from '../errors.js';
import { openSealedBytes } from './open-file.js';
import { sealFile } from './seal-file.js';
import type { SealContext } from './tseal-format.js';

/**
 * The chain-of-custody record of one shared clip (DESIGN.md, "Seal"): what was shared,
 * cut from what, decided when, made by what software. It is a DSSE envelope signed by the
 * request's pseudonymous custody key (agent/crypto/device-keys.ts), sealed with TSEAL1 to
 * the request's recipient and written beside the clip as `<clip>.custody`.
 *
 * Promise 3 (anonymous sharing): the record names no device, owner, host or serial. The
 * only key in it is the per-request custody key, unlinkable across requests; the owner can
 * later prove it is theirs (agent/seal/custody-proof.ts).
 */
export const CUSTODY_PAYLOAD_TYPE = 'application/vnd.threshold.custody+json; version=1';
/** A record lists at most one hash per source segment; this bounds what an opener reads. */
export const MAX_CUSTODY_FILE_BYTES = 16 * 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, { message: 'must be a hex SHA-256' });
const iso = z.iso.datetime({ offset: false });
const base64Key32 = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, { message: 'must be 32 bytes base64' });
const sized = z.strictObject({ sha256: sha256Hex, bytes: z.number().int().min(0) });

export const custodyRecordSchema = z.strictObject({
  v: z.literal(1),
  requestId: z.string().min(1).max(256),
  /** SHA-256 of the request's payload bytes (the DSSE payload the agency signed). */
  requestPayloadSha256: sha256Hex,
  clip: z.strictObject({ index: z.number().int().min(0), start: iso, end: iso }),
  /** SHA-256 of each recorded segment the clip was cut from, in order. */
  sourceSegments: z.array(sha256Hex).max(200_000),
  plaintext: sized,
  sealed: sized,
  cutMode: z.enum(['fast', 'exact']),
  audio: z.boolean(),
  decidedAt: iso,
  /** Whether the device clock was synchronised when the clip was cut. */
  clockSync: z.enum(['synced', 'unsynced', 'unknown']),
  agentVersion: z.string().min(1).max(64),
  ffmpegVersion: z.string().min(1).max(128),
  /** The per-request custody public key (Ed25519) that signs this record. */
  custodyKey: base64Key32,
});

export type CustodyRecord = z.infer<typeof custodyRecordSchema>;
/** What the export knows; the version and key are added here. */
export type CustodyFacts = Omit<CustodyRecord, 'v' | 'custodyKey'>;

export type CustodyErrorCode =
  | 'custody_invalid'
  | 'custody_malformed'
  | 'custody_wrong_type'
  | 'custody_bad_signature'
  | 'custody_mismatch';

export class CustodyError extends ThresholdError {
  constructor(
    override readonly code: CustodyErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

const envelopeSchema = z.strictObject({
  payloadType: z.string().max(256),
  payload: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  signatures: z
    .array(z.strictObject({ keyid: z.string().max(128), sig: z.string().max(128) }))
    .min(1)
    .max(8),
});

export function buildCustodyRecord(facts: CustodyFacts, custodyKey: Uint8Array): CustodyRecord {
  const parsed = custodyRecordSchema.safeParse({
    v: 1,
    ...facts,
    custodyKey: Buffer.from(custodyKey).toString('base64'),
  });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new CustodyError(
      'custody_invalid',
      `custody record: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Signs `record` with the custody secret key whose public half the record names. */
export function signCustody(record: CustodyRecord, secretKey: Uint8Array): DsseEnvelope {
  const named = Buffer.from(record.custodyKey, 'base64');
  if (!Buffer.from(secretKey.subarray(32)).equals(named)) {
    throw new CustodyError('custody_invalid', 'the signing key is not the record custody key');
  }
  const payload = new TextEncoder().encode(JSON.stringify(record));
  return signEnvelope(CUSTODY_PAYLOAD_TYPE, payload, [secretKey]);
}

/**
 * Checks a custody envelope (untrusted input) and returns its record: the payload type,
 * the record's shape, and a valid signature by the custody key the record names. The
 * key's binding to its author is what an authorship proof adds (custody-proof.ts).
 */
export function verifyCustody(
  envelope: unknown,
  expect: { readonly requestId?: string } = {},
): CustodyRecord {
  const parsed = envelopeSchema.safeParse(envelope);
  if (!parsed.success) throw new CustodyError('custody_malformed', 'not a DSSE envelope');
  if (parsed.data.payloadType !== CUSTODY_PAYLOAD_TYPE) {
    throw new CustodyError('custody_wrong_type', 'not a custody record');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(parsed.data.payload, 'base64').toString('utf8'));
  } catch {
    throw new CustodyError('custody_malformed', 'the custody payload is not JSON');
  }
  const record = custodyRecordSchema.safeParse(raw);
  if (!record.success) {
    throw new CustodyError('custody_malformed', 'the custody payload is not a valid record');
  }
  const key = new Uint8Array(Buffer.from(record.data.custodyKey, 'base64'));
  if (verifiedKeys(parsed.data, [key]).length !== 1) {
    throw new CustodyError('custody_bad_signature', 'not signed by the record custody key');
  }
  if (expect.requestId !== undefined && record.data.requestId !== expect.requestId) {
    throw new CustodyError('custody_mismatch', 'the record is for another request');
  }
  return record.data;
}

export function custodyPath(clipPath: string): string {
  return `${clipPath}.custody`;
}

/** Derives custody keys; `DeviceKeys` is one. */
export interface CustodySigner {
  custodyKeyPair(requestId: string): nacl.SignKeyPair;
}

export interface WriteCustodyOptions {
  /** The sealed clip; the record goes to `<clipPath>.custody`. */
  readonly clipPath: string;
  readonly recipient: Uint8Array;
  readonly signer: CustodySigner;
  readonly facts: CustodyFacts;
  readonly signal?: AbortSignal;
}

/** Builds, signs and seals the record beside the clip; returns the record file's path. */
export async function writeCustody(options: WriteCustodyOptions): Promise<string> {
  const keyPair = options.signer.custodyKeyPair(options.facts.requestId);
  const record = buildCustodyRecord(options.facts, keyPair.publicKey);
  const envelope = signCustody(record, keyPair.secretKey);
  keyPair.secretKey.fill(0);
  const bytes = new TextEncoder().encode(JSON.stringify(envelope));
  const output = custodyPath(options.clipPath);
  const context: SealContext = {
    requestId: record.requestId,
    clipIndex: record.clip.index,
    kind: 'custody',
  };
  await sealFile({
    input: oneChunk(bytes),
    output,
    recipient: options.recipient,
    context,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return output;
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** An opened and verified custody file. */
export interface OpenedCustody {
  readonly record: CustodyRecord;
  readonly envelope: DsseEnvelope;
  readonly context: SealContext;
}

/**
 * Opens a sealed custody file with the recipient's box secret key and verifies it: the
 * seal, the signature, and that the sealed context (authenticated) names the same request
 * and clip as the record.
 */
export async function openCustody(path: string, boxSecretKey: Uint8Array): Promise<OpenedCustody> {
  const { size } = await stat(path);
  if (size > MAX_CUSTODY_FILE_BYTES) {
    throw new CustodyError('custody_malformed', 'the custody file is too large');
  }
  const opened = await openSealedBytes(await readFile(path), boxSecretKey);
  if (opened.context.kind !== 'custody') {
    throw new CustodyError('custody_wrong_type', 'the sealed file is not a custody record');
  }
  let envelope: unknown;
  try {
    envelope = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(opened.plaintext));
  } catch {
    throw new CustodyError('custody_malformed', 'the custody file does not hold JSON');
  }
  const record = verifyCustody(envelope, { requestId: opened.context.requestId });
  if (record.clip.index !== opened.context.clipIndex) {
    throw new CustodyError('custody_mismatch', 'the record is for another clip');
  }
  return { record, envelope: envelope as DsseEnvelope, context: opened.context };
}
