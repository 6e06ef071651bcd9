import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Interoperability vectors for the request protocol, made with node:crypto (OpenSSL)
 * alone: its own DSSE pre-authentication encoding, its own Ed25519 signing, no code from
 * `agent/`. The tests check them against both of the agent's implementations (tweetnacl
 * and node:crypto) and feed the request to the device's intake. Keys come from fixed
 * seeds, and Ed25519 is deterministic, so this script always writes the same file:
 *
 *   npx tsx test-fixtures/vectors/make-vectors.ts
 */

export const VECTORS_FILE = join(import.meta.dirname, 'request-vectors.json');

const REQUEST_TYPE = 'application/vnd.threshold.request+json; version=1';
const DELEGATION_TYPE = 'application/vnd.threshold.delegation+json; version=1';
const REVOCATION_TYPE = 'application/vnd.threshold.revocations+json; version=1';
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The moment the vectors are valid at (the request was issued then). */
export const VECTOR_TIME = Date.UTC(2026, 2, 1, 12, 0, 0);
/** A device location inside the request's area. */
export const VECTOR_DEVICE = { lat: 52.556, lon: 13.363 };

const sha256 = (text: string) => createHash('sha256').update(text).digest();

interface Key {
  name: string;
  seed: Buffer;
  privateKey: KeyObject;
  publicKey: Buffer;
  keyId: string;
}

function key(name: string): Key {
  const seed = sha256(`threshold test vector key: ${name}`);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = spki.subarray(spki.length - 32);
  return {
    name,
    seed,
    privateKey,
    publicKey,
    keyId: createHash('sha256').update(publicKey).digest('hex'),
  };
}

/** DSSE v1 PAE: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
function pae(type: string, body: Buffer): Buffer {
  const typeBytes = Buffer.from(type, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${typeBytes.length} ${type} ${body.length} `, 'utf8'),
    body,
  ]);
}

function statement(name: string, payloadType: string, body: unknown, signers: Key[]) {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const message = pae(payloadType, payload);
  return {
    name,
    payloadType,
    payload: payload.toString('base64'),
    pae: message.toString('hex'),
    signatures: signers.map((signer) => ({
      keyid: signer.keyId,
      sig: sign(null, message, signer.privateKey).toString('base64'),
    })),
  };
}

const envelopeOf = (v: ReturnType<typeof statement>) => ({
  payloadType: v.payloadType,
  payload: v.payload,
  signatures: v.signatures,
});

export function makeVectors() {
  const roots = [key('root-a'), key('root-b')];
  const agency = key('agency metro-pd');
  const iso = (ms: number) => new Date(ms).toISOString();
  const hour = 3600_000;

  const delegation = statement(
    'delegation',
    DELEGATION_TYPE,
    {
      v: 1,
      agencyId: 'metro-pd',
      name: 'Metro Police Department',
      signingKey: agency.publicKey.toString('base64'),
      regions: ['u33'],
      maxRadiusM: 2000,
      maxWindowS: 43200,
      notBefore: iso(VECTOR_TIME - 24 * hour),
      notAfter: iso(VECTOR_TIME + 14 * 24 * hour),
    },
    roots,
  );
  const request = statement(
    'request',
    REQUEST_TYPE,
    {
      v: 1,
      id: sha256('request id').subarray(0, 16).toString('base64url'),
      agencyId: 'metro-pd',
      investigationCode: 'MPD-2026/0042',
      title: 'Burglary on Elm Street',
      description: 'A break-in between 11:00 and 11:30.\nAny footage of the street helps.',
      area: { ...VECTOR_DEVICE, radiusM: 300 },
      window: { start: iso(VECTOR_TIME - hour), end: iso(VECTOR_TIME - hour / 2) },
      issuedAt: iso(VECTOR_TIME),
      expiresAt: iso(VECTOR_TIME + 72 * hour),
      recipient: { boxPublicKey: sha256('recipient box key').toString('base64') },
      upload: { url: 'https://evidence.example.org/files/' },
      contact: { name: 'Det. Rivera', email: 'rivera@example.org' },
    },
    [agency],
  );
  const revocations = statement(
    'revocations',
    REVOCATION_TYPE,
    {
      v: 1,
      version: 7,
      issuedAt: iso(VECTOR_TIME),
      agencyIds: ['rogue-pd'],
      signingKeys: [key('rogue key').publicKey.toString('base64')],
    },
    roots,
  );
  const requestEnvelope = { ...envelopeOf(request), delegation: envelopeOf(delegation) };

  const publicOf = (k: Key) => ({
    name: k.name,
    seed: k.seed.toString('hex'),
    publicKey: k.publicKey.toString('base64'),
    keyId: k.keyId,
  });
  return {
    about:
      'Threshold request protocol v1 vectors: Ed25519 (RFC 8032) over DSSE v1 PAE, made ' +
      'with node:crypto by make-vectors.ts. Seeds are test keys, never use them elsewhere.',
    time: iso(VECTOR_TIME),
    device: VECTOR_DEVICE,
    keys: { roots: roots.map(publicOf), agency: publicOf(agency) },
    vectors: [delegation, request, revocations],
    /** The request message as published on `threshold/v1/requests/u33d`. */
    requestMessage: JSON.stringify(requestEnvelope),
  };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  writeFileSync(VECTORS_FILE, `${JSON.stringify(makeVectors(), null, 2)}\n`);
  console.log(`wrote ${VECTORS_FILE}`);
}
