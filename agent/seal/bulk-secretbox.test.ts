import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { BOX_OFFSET, type BulkSecretbox, MESSAGE_OFFSET } from './bulk-secretbox.js';
import { chooseSecretbox, chosenSecretbox } from './secretbox-choice.js';
import { asSodiumBinding, requireSodium, sodiumSecretbox } from './sodium-secretbox.js';
import { tweetnaclSecretbox } from './tweetnacl-secretbox.js';

/**
 * One contract for both chunk secretboxes: each seals in place to exactly what tweetnacl's
 * high-level `nacl.secretbox` returns, opens its own and the other's boxes, and refuses an
 * altered box without changing a byte. Then how the choice between them is made.
 */
const implementations: BulkSecretbox[] = [
  sodiumSecretbox(asSodiumBinding(requireSodium())),
  tweetnaclSecretbox,
];
const SIZES = [0, 1, 15, 16, 17, 1000, 65_535, 65_536];

/** Byte equality, as hex of a digest: comparing 64 KiB arrays element-wise is slow. */
const digest = (bytes: Uint8Array | null) =>
  bytes ? Buffer.from(nacl.hash(bytes)).toString('hex') : 'null';

function chunkBuffer(message: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(MESSAGE_OFFSET + 65_536).fill(0xee); // stale bytes around it
  buffer.set(message, MESSAGE_OFFSET);
  return buffer;
}

function boxBuffer(box: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(MESSAGE_OFFSET + 65_536).fill(0xdd);
  buffer.set(box, BOX_OFFSET);
  return buffer;
}

describe.each(implementations.map((box) => [box.name, box] as const))('%s secretbox', (_, box) => {
  it('seals in place to the bytes nacl.secretbox gives, over a reused buffer', () => {
    const key = nacl.randomBytes(32);
    const nonce = nacl.randomBytes(24);
    for (const size of SIZES) {
      const message = randomBytes(size);
      const buffer = chunkBuffer(message);
      box.seal(buffer, size, nonce, key);
      const expected = nacl.secretbox(message, nonce, key);
      expect([size, digest(buffer.subarray(BOX_OFFSET, MESSAGE_OFFSET + size))]).toEqual([
        size,
        digest(expected),
      ]);
      // Sealing again in the same buffer (the ring reuses them) gives the next box right.
      const again = randomBytes(size);
      buffer.set(again, MESSAGE_OFFSET);
      box.seal(buffer, size, nonce, key);
      const opened = nacl.secretbox.open(
        buffer.slice(BOX_OFFSET, MESSAGE_OFFSET + size),
        nonce,
        key,
      );
      expect(digest(opened)).toBe(digest(again));
    }
  });

  it('opens in place what either implementation sealed', () => {
    const key = nacl.randomBytes(32);
    const nonce = nacl.randomBytes(24);
    for (const sealer of implementations) {
      for (const size of SIZES) {
        const message = randomBytes(size);
        const sealing = chunkBuffer(message);
        sealer.seal(sealing, size, nonce, key);
        const buffer = boxBuffer(sealing.subarray(BOX_OFFSET, MESSAGE_OFFSET + size));
        expect([sealer.name, size, box.open(buffer, size, nonce, key)]).toEqual([
          sealer.name,
          size,
          true,
        ]);
        expect(digest(buffer.subarray(MESSAGE_OFFSET, MESSAGE_OFFSET + size))).toBe(
          digest(message),
        );
      }
    }
  });

  it('refuses a box with any flipped tag byte, a flipped body byte, or the wrong nonce, changing nothing', () => {
    const key = nacl.randomBytes(32);
    const nonce = nacl.randomBytes(24);
    const size = 1000;
    const sealed = nacl.secretbox(randomBytes(size), nonce, key);
    const otherNonce = Uint8Array.from(nonce);
    otherNonce[23] = (otherNonce[23] ?? 0) ^ 1;
    const cases: [string, Uint8Array, Uint8Array][] = [];
    for (let at = 0; at < 16; at++) {
      const flipped = Uint8Array.from(sealed);
      flipped[at] = (flipped[at] ?? 0) ^ 0x01;
      cases.push([`tag byte ${at}`, flipped, nonce]);
    }
    const body = Uint8Array.from(sealed);
    body[500] = (body[500] ?? 0) ^ 0x80;
    cases.push(['body byte', body, nonce], ['other nonce', sealed, otherNonce]);
    for (const [what, bytes, n] of cases) {
      const buffer = boxBuffer(bytes);
      const before = digest(buffer);
      expect([what, box.open(buffer, size, n, key)]).toEqual([what, false]);
      expect([what, digest(buffer)]).toEqual([what, before]);
    }
  });
});

describe('the choice of chunk secretbox', () => {
  it('is libsodium here: the addon ships a prebuilt binary for this platform', () => {
    const choice = chosenSecretbox();
    expect(choice.fallbackReason).toBeUndefined();
    expect(choice.secretbox.name).toBe('libsodium');
  });

  it('falls back to tweetnacl, saying why, when the addon cannot load', () => {
    const choice = chooseSecretbox(() => {
      throw new Error('No native build was found for platform=linux arch=riscv64\n    at load');
    });
    expect(choice.secretbox).toBe(tweetnaclSecretbox);
    expect(choice.fallbackReason).toBe('No native build was found for platform=linux arch=riscv64');
  });

  it('falls back when the addon lacks the calls, or seals bytes tweetnacl does not', () => {
    expect(chooseSecretbox(() => ({})).fallbackReason).toMatch(/lacks crypto_secretbox_detached/);
    const real = asSodiumBinding(requireSodium());
    const wrong = chooseSecretbox(() => ({
      crypto_secretbox_detached: (
        c: Uint8Array,
        mac: Uint8Array,
        m: Uint8Array,
        n: Uint8Array,
        k: Uint8Array,
      ) => {
        real.crypto_secretbox_detached(c, mac, m, n, k);
        c[0] = (c[0] ?? 0) ^ 1; // a broken build
      },
      crypto_secretbox_open_detached: real.crypto_secretbox_open_detached,
    }));
    expect(wrong.secretbox).toBe(tweetnaclSecretbox);
    expect(wrong.fallbackReason).toMatch(/disagrees with tweetnacl/);
  });
});
