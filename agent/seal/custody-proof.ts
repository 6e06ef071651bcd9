import { z } from 'zod';
import type { DeviceKeys } from '../crypto/device-keys.js';
import { type DsseEnvelope, signEnvelope, verifiedKeys } from '../crypto/dsse.js';
import { ThresholdError } from '../errors.js';

/**
 * Proof of authorship of a custody record, made only when the owner asks for it
 * (`threshold custody prove`).
 *
 * A record is signed by the request's custody key `K_r`, derived from the device secret
 * and the request id. The proof is a statement `{ requestId, custodyKey: K_r, deviceKey: D,
 * challenge }` in a DSSE envelope signed by both `K_r` and the device proof key `D`
 * (derived from the same secret under another label):
 *
 * - the `K_r` signature shows the prover holds the key that signed the record: nobody
 *   else can make it, so nobody else can claim the record, and the owner cannot claim a
 *   record made by another device;
 * - the `D` signature ties the claim to one device: every proof this device gives carries
 *   the same `D`, so an owner can show that several records are theirs, and a verifier
 *   who knew `D` before recognises the device;
 * - `challenge` (chosen by the verifier) makes the proof fresh, so a copied proof does not
 *   let someone else pass as the author.
 *
 * Nothing secret is revealed: not the device secret and not the per-request seed (seeing a
 * seed would let the verifier sign as `K_r` afterwards). `D` appears only in proofs, so the
 * records the owner does not prove stay unlinkable; proving two records to the same party
 * links those two, by the owner's choice.
 */
export const CUSTODY_PROOF_PAYLOAD_TYPE = 'application/vnd.threshold.custody-proof+json; version=1';

const base64Key32 = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, { message: 'must be 32 bytes base64' });

export const proofStatementSchema = z.strictObject({
  v: z.literal(1),
  requestId: z.string().min(1).max(256),
  custodyKey: base64Key32,
  deviceKey: base64Key32,
  challenge: z.string().max(256).optional(),
});

export type ProofStatement = z.infer<typeof proofStatementSchema>;

/** What `custody prove --json` prints and `threshold-agency open --proof` reads. */
export interface CustodyProof {
  readonly requestId: string;
  readonly custodyKey: string;
  readonly deviceKey: string;
  readonly challenge?: string;
  readonly proof: DsseEnvelope;
}

export class CustodyProofError extends ThresholdError {}

export function makeCustodyProof(
  keys: DeviceKeys,
  requestId: string,
  challenge?: string,
): CustodyProof {
  const custody = keys.custodyKeyPair(requestId);
  const device = keys.proofKeyPair();
  const statement: ProofStatement = proofStatementSchema.parse({
    v: 1,
    requestId,
    custodyKey: Buffer.from(custody.publicKey).toString('base64'),
    deviceKey: Buffer.from(device.publicKey).toString('base64'),
    ...(challenge === undefined ? {} : { challenge }),
  });
  const payload = new TextEncoder().encode(JSON.stringify(statement));
  const proof = signEnvelope(CUSTODY_PROOF_PAYLOAD_TYPE, payload, [
    custody.secretKey,
    device.secretKey,
  ]);
  custody.secretKey.fill(0);
  device.secretKey.fill(0);
  return {
    requestId: statement.requestId,
    custodyKey: statement.custodyKey,
    deviceKey: statement.deviceKey,
    ...(statement.challenge === undefined ? {} : { challenge: statement.challenge }),
    proof,
  };
}

const envelopeSchema = z.strictObject({
  payloadType: z.literal(CUSTODY_PROOF_PAYLOAD_TYPE),
  payload: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  signatures: z
    .array(z.strictObject({ keyid: z.string().max(128), sig: z.string().max(128) }))
    .min(2)
    .max(8),
});

/** A proof file: the `--json` output of `custody prove`, or its bare envelope. */
const proofFileSchema = z.union([z.looseObject({ proof: envelopeSchema }), envelopeSchema]);

export interface ProofExpectation {
  /** The custody key of the record being claimed (base64), from the verified record. */
  readonly custodyKey: string;
  readonly requestId: string;
  /** The challenge the verifier gave, when it gave one. */
  readonly challenge?: string;
}

/**
 * Verifies a proof (untrusted input) against the record it claims: signatures by both
 * keys the statement names, the same custody key and request, and the challenge.
 * Returns the statement, whose `deviceKey` identifies the proving device.
 */
export function verifyCustodyProof(input: unknown, expect: ProofExpectation): ProofStatement {
  const file = proofFileSchema.safeParse(input);
  if (!file.success) throw new CustodyProofError('proof_malformed', 'not a custody proof');
  const envelope = 'proof' in file.data ? file.data.proof : file.data;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
  } catch {
    throw new CustodyProofError('proof_malformed', 'the proof statement is not JSON');
  }
  const statement = proofStatementSchema.safeParse(raw);
  if (!statement.success) {
    throw new CustodyProofError('proof_malformed', 'the proof statement is not valid');
  }
  const { custodyKey, deviceKey, requestId, challenge } = statement.data;
  const keys = [custodyKey, deviceKey].map((key) => new Uint8Array(Buffer.from(key, 'base64')));
  if (custodyKey === deviceKey || verifiedKeys(envelope, keys).length !== 2) {
    throw new CustodyProofError('proof_bad_signature', 'the proof is not signed by both keys');
  }
  if (custodyKey !== expect.custodyKey || requestId !== expect.requestId) {
    throw new CustodyProofError('proof_mismatch', 'the proof is for another record');
  }
  if (expect.challenge !== undefined && challenge !== expect.challenge) {
    throw new CustodyProofError('proof_mismatch', 'the proof does not answer the challenge');
  }
  return statement.data;
}
