import nacl from 'tweetnacl';
import { type BulkSecretbox, MESSAGE_OFFSET } from './bulk-secretbox.js';

/**
 * The bulk secretbox in JavaScript: tweetnacl's low-level `crypto_secretbox`, which its
 * type declarations leave out. The high-level `nacl.secretbox` allocates two buffers per
 * call and copies the message byte by byte into a zero-padded one; the low-level call works
 * in place on the chunk buffer, with the NaCl padding convention (bulk-secretbox.ts):
 *
 * - seal: `m[0..32]` zero, message at `m[32..d]`; afterwards `c[16..32]` is the Poly1305
 *   tag and `c[32..d]` the ciphertext.
 * - open: box (tag ‖ ciphertext) at `c[16..d]`; the tag is checked before anything is
 *   decrypted, and on success the message is at `m[32..d]` (and `m[0..32]` zeroed).
 *
 * Both run in place (`c === m`): each byte is read before it is written. The fallback when
 * libsodium cannot load (sodium-secretbox.ts): the same bytes, several times slower.
 */
interface Lowlevel {
  crypto_secretbox(
    c: Uint8Array,
    m: Uint8Array,
    d: number,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
  crypto_secretbox_open(
    m: Uint8Array,
    c: Uint8Array,
    d: number,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
}

function lowlevel(): Lowlevel {
  const candidate = (nacl as unknown as { lowlevel?: Partial<Lowlevel> }).lowlevel;
  if (
    typeof candidate?.crypto_secretbox !== 'function' ||
    typeof candidate.crypto_secretbox_open !== 'function'
  ) {
    throw new Error('tweetnacl does not expose lowlevel.crypto_secretbox');
  }
  return candidate as Lowlevel;
}

const secretbox = lowlevel();

export const tweetnaclSecretbox: BulkSecretbox = {
  name: 'tweetnacl',
  seal(buffer, length, nonce, key) {
    // A previous seal of this buffer left a tag in the padding.
    buffer.fill(0, 0, MESSAGE_OFFSET);
    secretbox.crypto_secretbox(buffer, buffer, length + MESSAGE_OFFSET, nonce, key);
  },
  open(buffer, length, nonce, key) {
    return (
      secretbox.crypto_secretbox_open(buffer, buffer, length + MESSAGE_OFFSET, nonce, key) === 0
    );
  },
};
