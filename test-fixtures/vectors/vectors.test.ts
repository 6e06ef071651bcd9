import { readFileSync } from 'node:fs';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { keyIdOf, pae } from '../../agent/crypto/dsse.js';
import { ed25519PublicKey, ed25519Verify } from '../../agent/crypto/ed25519.js';
import { buildDelegation, buildRequest, buildRevocations } from '../../agent/requests/build.js';
import { createWorld, DEVICE_TOPIC } from '../../agent/test-support/intake-world.js';
import { makeVectors, VECTOR_TIME, VECTORS_FILE } from './make-vectors.js';

/**
 * The committed vectors (made with node:crypto by make-vectors.ts) against both of the
 * agent's Ed25519 implementations, and the agent's own signatures against node:crypto.
 */

type Vectors = ReturnType<typeof makeVectors>;
const vectors = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as Vectors;
const seedPair = (seedHex: string) => nacl.sign.keyPair.fromSeed(Buffer.from(seedHex, 'hex'));
const allKeys = [...vectors.keys.roots, vectors.keys.agency];
const HOUR = 3600_000;

describe('request protocol vectors', () => {
  it('are what make-vectors.ts makes (regenerate with it, never by hand)', () => {
    expect(JSON.parse(JSON.stringify(makeVectors()))).toEqual(vectors);
  });

  it('keys: tweetnacl derives the same public keys and key ids from the seeds', () => {
    for (const k of allKeys) {
      const pair = seedPair(k.seed);
      expect(Buffer.from(pair.publicKey).toString('base64')).toBe(k.publicKey);
      expect(keyIdOf(pair.publicKey)).toBe(k.keyId);
    }
  });

  for (const vector of vectors.vectors) {
    it(`${vector.name}: PAE matches; signatures verify under tweetnacl and node:crypto, and tweetnacl makes the same bytes`, () => {
      const payload = Buffer.from(vector.payload, 'base64');
      const message = pae(vector.payloadType, payload);
      expect(Buffer.from(message).toString('hex')).toBe(vector.pae);
      expect(vector.signatures.length).toBeGreaterThan(0);
      for (const signature of vector.signatures) {
        const signer = allKeys.find((k) => k.keyId === signature.keyid);
        if (!signer) throw new Error(`no key ${signature.keyid}`);
        const sig = Buffer.from(signature.sig, 'base64');
        const publicKey = Buffer.from(signer.publicKey, 'base64');
        expect(nacl.sign.detached.verify(message, sig, publicKey)).toBe(true);
        expect(ed25519Verify(message, sig, ed25519PublicKey(publicKey))).toBe(true);
        const again = nacl.sign.detached(message, seedPair(signer.seed).secretKey);
        expect(Buffer.from(again).toString('base64')).toBe(signature.sig);
        // And a one-bit change is refused by both.
        const bad = Buffer.from(sig);
        bad[63] = (bad[63] ?? 0) ^ 0x01;
        expect(nacl.sign.detached.verify(message, bad, publicKey)).toBe(false);
        expect(ed25519Verify(message, bad, ed25519PublicKey(publicKey))).toBe(false);
      }
    });
  }

  it('the node:crypto-signed request is accepted by the intake; its revocation list too', async () => {
    const roots = vectors.keys.roots.map((k) => seedPair(k.seed));
    const world = await createWorld({ roots, threshold: 2, start: VECTOR_TIME });
    try {
      await world.record(VECTOR_TIME - 2 * HOUR, VECTOR_TIME);
      const result = await world.intake.handleRequest(
        DEVICE_TOPIC,
        Buffer.from(vectors.requestMessage),
      );
      expect(result).toMatchObject({ kind: 'pending' });
      expect(
        result.kind === 'pending' && (await world.store.get(result.requestId))?.rootNames,
      ).toEqual(['root-1', 'root-2']);
      const revocations = vectors.vectors.find((v) => v.name === 'revocations');
      const envelope = {
        payloadType: revocations?.payloadType,
        payload: revocations?.payload,
        signatures: revocations?.signatures,
      };
      expect(await world.intake.handleRevocations(Buffer.from(JSON.stringify(envelope)))).toEqual({
        kind: 'accepted',
        version: 7,
      });
      expect(world.trust.isRevoked('rogue-pd', '')).toBe(true);
    } finally {
      await world.close();
    }
  });

  it("the agent's build functions make signatures node:crypto verifies", () => {
    const [rootA, rootB] = vectors.keys.roots.map((k) => seedPair(k.seed));
    const agency = seedPair(vectors.keys.agency.seed);
    if (!rootA || !rootB) throw new Error('two roots expected');
    const delegation = buildDelegation({
      rootSecretKeys: [rootA.secretKey, rootB.secretKey],
      agencyId: 'metro-pd',
      name: 'Metro Police Department',
      signingKey: agency.publicKey,
      regions: ['u33'],
      maxRadiusM: 2000,
      maxWindowS: 43200,
      notBefore: VECTOR_TIME - 24 * HOUR,
      notAfter: VECTOR_TIME + 14 * 24 * HOUR,
    });
    const request = buildRequest({
      agencySecretKey: agency.secretKey,
      delegation,
      agencyId: 'metro-pd',
      investigationCode: 'X-1',
      title: 't',
      description: '',
      area: { ...vectors.device, radiusM: 300 },
      window: { start: VECTOR_TIME - HOUR, end: VECTOR_TIME },
      issuedAt: VECTOR_TIME,
      expiresAt: VECTOR_TIME + HOUR,
      recipientBoxPublicKey: new Uint8Array(32),
      uploadUrl: 'https://evidence.example.org/',
    });
    const revocations = buildRevocations({
      rootSecretKeys: [rootA.secretKey],
      version: 1,
      agencyIds: [],
      issuedAt: VECTOR_TIME,
    });
    const checks = [
      { envelope: request.envelope, keys: [agency.publicKey] },
      { envelope: delegation, keys: [rootA.publicKey, rootB.publicKey] },
      { envelope: revocations, keys: [rootA.publicKey] },
    ];
    for (const { envelope, keys } of checks) {
      const message = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
      expect(envelope.signatures).toHaveLength(keys.length);
      envelope.signatures.forEach((signature, i) => {
        const key = keys[i] ?? new Uint8Array();
        expect(signature.keyid).toBe(keyIdOf(key));
        expect(
          ed25519Verify(message, Buffer.from(signature.sig, 'base64'), ed25519PublicKey(key)),
        ).toBe(true);
      });
    }
  });
});
