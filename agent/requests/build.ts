import { randomBytes } from 'node:crypto';
import { type DsseEnvelope, signEnvelope } from '../crypto/dsse.js';
import { cellsTouching } from './geo.js';
import {
  DELEGATION_PAYLOAD_TYPE,
  type DelegationJson,
  REQUEST_PAYLOAD_TYPE,
  REQUEST_TOPIC_PREFIX,
  REVOCATION_PAYLOAD_TYPE,
  type RequestEnvelope,
  type RequestPayloadJson,
  type RevocationListJson,
  TOPIC_GEOHASH_LENGTH,
  toIsoUtc,
} from './protocol.js';

/**
 * The signing side of the protocol: trust roots delegate agencies and publish
 * revocations; agencies sign requests. Used by the agency CLI, tests and benchmarks.
 * Signing uses tweetnacl (64-byte secret keys, seed‖public); these functions sign what
 * they are given and check nothing: the device is the judge.
 */

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export interface DelegationInput {
  /** tweetnacl secret keys (64 bytes) of the roots that vouch for the agency. */
  rootSecretKeys: readonly Uint8Array[];
  agencyId: string;
  name: string;
  /** The agency's Ed25519 public key, 32 bytes. */
  signingKey: Uint8Array;
  regions: readonly string[];
  maxRadiusM: number;
  maxWindowS: number;
  /** ms since the epoch. */
  notBefore: number;
  notAfter: number;
}

export function buildDelegation(input: DelegationInput): DsseEnvelope {
  const payload: DelegationJson = {
    v: 1,
    agencyId: input.agencyId,
    name: input.name,
    signingKey: b64(input.signingKey),
    regions: [...input.regions],
    maxRadiusM: input.maxRadiusM,
    maxWindowS: input.maxWindowS,
    notBefore: toIsoUtc(input.notBefore),
    notAfter: toIsoUtc(input.notAfter),
  };
  return signStatement(DELEGATION_PAYLOAD_TYPE, payload, input.rootSecretKeys);
}

export interface RequestInput {
  /** The agency's tweetnacl secret key (64 bytes). */
  agencySecretKey: Uint8Array;
  delegation: DsseEnvelope;
  agencyId: string;
  investigationCode: string;
  title: string;
  description: string;
  area: { lat: number; lon: number; radiusM: number };
  /** ms since the epoch. */
  window: { start: number; end: number };
  issuedAt: number;
  expiresAt: number;
  /** The X25519 key shared footage is sealed to, 32 bytes. */
  recipientBoxPublicKey: Uint8Array;
  uploadUrl: string;
  contact?: { name?: string; phone?: string; email?: string };
  /** A fixed id (tests, re-sends); a fresh random one otherwise. */
  id?: string;
}

export interface BuiltRequest {
  envelope: RequestEnvelope;
  /** The message as published: the envelope's JSON, UTF-8. */
  bytes: Buffer;
  id: string;
}

/** A fresh request id: 16 random bytes, base64url without padding (22 characters). */
export function newRequestId(): string {
  return randomBytes(16).toString('base64url');
}

export function buildRequest(input: RequestInput): BuiltRequest {
  const id = input.id ?? newRequestId();
  const payload: RequestPayloadJson = {
    v: 1,
    id,
    agencyId: input.agencyId,
    investigationCode: input.investigationCode,
    title: input.title,
    description: input.description,
    area: { ...input.area },
    window: { start: toIsoUtc(input.window.start), end: toIsoUtc(input.window.end) },
    issuedAt: toIsoUtc(input.issuedAt),
    expiresAt: toIsoUtc(input.expiresAt),
    recipient: { boxPublicKey: b64(input.recipientBoxPublicKey) },
    upload: { url: input.uploadUrl },
    ...(input.contact ? { contact: { ...input.contact } } : {}),
  };
  return { ...signRequestPayload(payload, input.agencySecretKey, input.delegation), id };
}

/**
 * Signs any payload (an object is serialised as JSON; bytes are signed as they are) as a
 * request envelope. Tests use it to sign payloads `buildRequest` would never produce.
 */
export function signRequestPayload(
  payload: unknown,
  agencySecretKey: Uint8Array,
  delegation: DsseEnvelope,
  payloadType: string = REQUEST_PAYLOAD_TYPE,
): { envelope: RequestEnvelope; bytes: Buffer } {
  const payloadBytes =
    payload instanceof Uint8Array ? payload : Buffer.from(JSON.stringify(payload), 'utf8');
  const signed = signEnvelope(payloadType, payloadBytes, [agencySecretKey]);
  const envelope: RequestEnvelope = {
    payloadType: signed.payloadType,
    payload: signed.payload,
    signatures: signed.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
    delegation: copyEnvelope(delegation),
  };
  return { envelope, bytes: Buffer.from(JSON.stringify(envelope), 'utf8') };
}

export interface RevocationInput {
  rootSecretKeys: readonly Uint8Array[];
  version: number;
  agencyIds: readonly string[];
  /** Revoked agency signing keys, base64 of the 32-byte public key. */
  signingKeys?: readonly string[];
  /** ms since the epoch. */
  issuedAt: number;
}

export function buildRevocations(input: RevocationInput): DsseEnvelope {
  const payload: RevocationListJson = {
    v: 1,
    version: input.version,
    issuedAt: toIsoUtc(input.issuedAt),
    agencyIds: [...input.agencyIds],
    signingKeys: [...(input.signingKeys ?? [])],
  };
  return signStatement(REVOCATION_PAYLOAD_TYPE, payload, input.rootSecretKeys);
}

/** Signs a JSON statement with each root key (DSSE, one signature per root). */
export function signStatement(
  payloadType: string,
  payload: unknown,
  secretKeys: readonly Uint8Array[],
): DsseEnvelope {
  return signEnvelope(payloadType, Buffer.from(JSON.stringify(payload), 'utf8'), secretKeys);
}

function copyEnvelope(envelope: DsseEnvelope): RequestEnvelope['delegation'] {
  return {
    payloadType: envelope.payloadType,
    payload: envelope.payload,
    signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  };
}

/** The topics an agency publishes a request to: every 4-character cell its area touches. */
export function requestTopics(area: { lat: number; lon: number; radiusM: number }): string[] {
  return cellsTouching(area, TOPIC_GEOHASH_LENGTH).map((cell) => REQUEST_TOPIC_PREFIX + cell);
}

/**
 * The topics a device subscribes to: the 4-character cells within `radiusM` (the owner's
 * largest accepted radius) of its location. 1 to 4 cells while the radius is below half
 * a cell's shorter side (about 9.7 km at the equator, less towards the poles).
 */
export function subscriptionTopics(
  location: { lat: number; lon: number },
  radiusM: number,
): string[] {
  return cellsTouching({ ...location, radiusM }, TOPIC_GEOHASH_LENGTH).map(
    (cell) => REQUEST_TOPIC_PREFIX + cell,
  );
}
