/**
 * The secretbox (XSalsa20-Poly1305) that seals and opens TSEAL1's 64 KiB chunks, in place
 * in a chunk buffer. Two implementations give the same bytes: libsodium through the
 * `sodium-native` addon (sodium-secretbox.ts), and tweetnacl in JavaScript
 * (tweetnacl-secretbox.ts), several times slower, used when the addon cannot load.
 *
 * Buffer layout, shared by both so that the seal and the opener need not know which runs:
 *
 * ```
 * [0 .. 16)               scratch (tweetnacl's zero padding; unused by libsodium)
 * [16 .. 32)              the Poly1305 tag
 * [32 .. 32 + length)     the message before sealing, its ciphertext after
 * ```
 *
 * so the box on disk (tag ‖ ciphertext, exactly what `nacl.secretbox` returns) is
 * `buffer[16 .. 32 + length)`, and a chunk is read into that range to be opened.
 */
export interface BulkSecretbox {
  readonly name: 'libsodium' | 'tweetnacl';
  /** Seals `buffer[32 .. 32 + length)` in place; the box is then `buffer[16 .. 32 + length)`. */
  seal(buffer: Uint8Array, length: number, nonce: Uint8Array, key: Uint8Array): void;
  /**
   * Opens the box at `buffer[16 .. 32 + length)` in place (`length` = message bytes).
   * Returns false, having changed nothing, when the tag does not verify; on success the
   * message is at `buffer[32 .. 32 + length)`.
   */
  open(buffer: Uint8Array, length: number, nonce: Uint8Array, key: Uint8Array): boolean;
}

/** Where the box (tag ‖ ciphertext) starts in a chunk buffer. */
export const BOX_OFFSET = 16;
/** Where the message (plaintext or ciphertext) starts in a chunk buffer. */
export const MESSAGE_OFFSET = 32;
/** Poly1305 tag bytes a box adds to its message. */
export const TAG_BYTES = MESSAGE_OFFSET - BOX_OFFSET;
