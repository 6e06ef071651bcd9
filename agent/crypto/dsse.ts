import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';

/**
 * Dead Simple Signing Envelope (DSSE v1) with Ed25519 signatures. Signatures cover the
 * pre-authentication encoding of the exact payload bytes, so no canonical JSON is needed.
 * Spec: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
 */

export interface DsseSignature {
  /** A hint naming the key; never trusted, the verifier tries its known keys. */
  readonly keyid: string;
  /** Ed25519 signature over `pae(payloadType, payload)`, base64. */
  readonly sig: string;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  /** The payload bytes, base64. */
  readonly payload: string;
  readonly signatures: readonly DsseSignature[];
}

/** `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal (bytes). */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return Buffer.concat([head, payload]);
}

/** The key id we publish for an Ed25519 public key: hex SHA-256 of its 32 raw bytes. */
export function keyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

/** Signs `payload` with each Ed25519 secret key (tweetnacl's 64-byte form). */
export function signEnvelope(
  payloadType: string,
  payload: Uint8Array,
  secretKeys: readonly Uint8Array[],
): DsseEnvelope {
  const message = pae(payloadType, payload);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: secretKeys.map((secretKey) => ({
      keyid: keyIdOf(secretKey.subarray(32)),
      sig: Buffer.from(nacl.sign.detached(message, secretKey)).toString('base64'),
    })),
  };
}

/**
 * The distinct keys among `publicKeys` that made a valid signature of the envelope.
 * `keyid` hints are ignored: each signature is checked against each key, at most
 * `maxSignatures` signatures are looked at (callers bound the work per message).
 */
export function verifiedKeys(
  envelope: DsseEnvelope,
  publicKeys: readonly Uint8Array[],
  maxSignatures = 8,
): Uint8Array[] {
  const payload = Buffer.from(envelope.payload, 'base64');
  const message = pae(envelope.payloadType, payload);
  const found: Uint8Array[] = [];
  for (const signature of envelope.signatures.slice(0, maxSignatures)) {
    const sig = Buffer.from(signature.sig, 'base64');
    if (sig.length !== nacl.sign.signatureLength) continue;
    for (const key of publicKeys) {
      if (found.includes(key)) continue;
      if (nacl.sign.detached.verify(message, sig, key)) {
        found.push(key);
        break;
      }
    }
  }
  return found;
}
