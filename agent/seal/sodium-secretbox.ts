import { createRequire } from 'node:module';
import { BOX_OFFSET, type BulkSecretbox, MESSAGE_OFFSET, TAG_BYTES } from './bulk-secretbox.js';

/**
 * The bulk secretbox in libsodium, through the `sodium-native` addon (prebuilt for
 * linux-x64 and linux-arm64 inside its npm package). `crypto_secretbox_detached` writes the
 * ciphertext over the message and the tag just before it, which is the box layout of
 * bulk-secretbox.ts with no copy; `crypto_secretbox_open_detached` checks the tag before
 * it decrypts, and writes nothing when it fails. Both allow the message and ciphertext to
 * be the same bytes (libsodium, "Secret-key authenticated encryption": "c and m can
 * overlap, making in-place encryption possible").
 */

/** The two calls of sodium-native this uses (its own type declarations are not needed). */
export interface SodiumBinding {
  crypto_secretbox_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    n: Uint8Array,
    k: Uint8Array,
  ): void;
  crypto_secretbox_open_detached(
    m: Uint8Array,
    c: Uint8Array,
    mac: Uint8Array,
    n: Uint8Array,
    k: Uint8Array,
  ): boolean;
}

/** Loads the addon; throws when it cannot (no prebuilt binary for this platform, say). */
export function requireSodium(): unknown {
  return createRequire(import.meta.url)('sodium-native');
}

export function asSodiumBinding(loaded: unknown): SodiumBinding {
  const candidate = loaded as Partial<SodiumBinding> | null | undefined;
  if (
    typeof candidate?.crypto_secretbox_detached !== 'function' ||
    typeof candidate.crypto_secretbox_open_detached !== 'function'
  ) {
    throw new Error('sodium-native lacks crypto_secretbox_detached');
  }
  return candidate as SodiumBinding;
}

export function sodiumSecretbox(sodium: SodiumBinding): BulkSecretbox {
  const tag = (buffer: Uint8Array) => buffer.subarray(BOX_OFFSET, BOX_OFFSET + TAG_BYTES);
  const message = (buffer: Uint8Array, length: number) =>
    buffer.subarray(MESSAGE_OFFSET, MESSAGE_OFFSET + length);
  return {
    name: 'libsodium',
    seal(buffer, length, nonce, key) {
      const m = message(buffer, length);
      sodium.crypto_secretbox_detached(m, tag(buffer), m, nonce, key);
    },
    open(buffer, length, nonce, key) {
      const c = message(buffer, length);
      return sodium.crypto_secretbox_open_detached(c, c, tag(buffer), nonce, key);
    },
  };
}
