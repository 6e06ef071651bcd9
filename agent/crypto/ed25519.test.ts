import { generateKeyPairSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519RawPublicKey,
  ed25519Sign,
  ed25519Verify,
} from './ed25519.js';

describe('ed25519 through node:crypto', () => {
  const message = Buffer.from('DSSEv1 4 test 5 hello');

  it('verifies tweetnacl signatures, and tweetnacl verifies ours (same bytes)', () => {
    const pair = nacl.sign.keyPair();
    const naclSig = nacl.sign.detached(message, pair.secretKey);
    expect(ed25519Verify(message, naclSig, ed25519PublicKey(pair.publicKey))).toBe(true);
    const nodeSig = ed25519Sign(message, ed25519PrivateKey(pair.secretKey));
    expect(nacl.sign.detached.verify(message, nodeSig, pair.publicKey)).toBe(true);
    expect(Buffer.from(nodeSig).equals(Buffer.from(naclSig))).toBe(true);
  });

  it('round-trips raw public keys', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const raw = ed25519RawPublicKey(publicKey);
    expect(raw).toHaveLength(32);
    expect(ed25519RawPublicKey(ed25519PublicKey(raw)).equals(raw)).toBe(true);
  });

  it('says false, never throws, for a wrong, short or tampered signature', () => {
    const pair = nacl.sign.keyPair();
    const key = ed25519PublicKey(pair.publicKey);
    const sig = Buffer.from(nacl.sign.detached(message, pair.secretKey));
    expect(ed25519Verify(message, sig.subarray(0, 63), key)).toBe(false);
    expect(ed25519Verify(message, Buffer.alloc(64), key)).toBe(false);
    expect(ed25519Verify(message, Buffer.alloc(64, 0xff), key)).toBe(false);
    const flipped = Buffer.from(sig);
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    expect(ed25519Verify(message, flipped, key)).toBe(false);
    expect(ed25519Verify(Buffer.from('DSSEv1 4 test 5 hellp'), sig, key)).toBe(false);
  });

  it('refuses keys of the wrong length', () => {
    expect(() => ed25519PublicKey(new Uint8Array(31))).toThrow(RangeError);
    expect(() => ed25519PrivateKey(new Uint8Array(33))).toThrow(RangeError);
  });
});
