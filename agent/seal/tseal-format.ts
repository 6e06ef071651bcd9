import nacl from 'tweetnacl';
import { z } from 'zod';
import { ThresholdError } from '../errors.js';
import { TAG_BYTES } from './bulk-secretbox.js';

/**
 * TSEAL1, the sealed-file format (DESIGN.md, "Seal"). Only NaCl primitives, so libsodium in
 * any language can open it:
 *
 * ```
 * header = "TSEAL1\n" ‖ u32be(65536) ‖ e.public (32) ‖ wrapped (48) ‖ prefix (16)
 *          ‖ u16be(n) ‖ context (n ≤ 1024 bytes of UTF-8 JSON)
 * s          = X25519(e.secret, R), never all zero
 * wrapKey    = H("threshold/seal/v1/wrap" ‖ s ‖ e.public ‖ R)
 * wrapped    = secretbox(fileKey, 24 zero bytes, wrapKey)
 * payloadKey = H("threshold/seal/v1/payload" ‖ fileKey ‖ SHA-512(header))
 * chunk i    = secretbox(plaintext[i·65536 ..], prefix ‖ 00 00 00 ‖ u32be(i) ‖ last, payloadKey)
 * ```
 *
 * `H(x)` is the first 32 bytes of SHA-512. The header is bound into `payloadKey`, so a
 * changed header byte makes the first chunk fail. `last` is 1 on the final chunk only,
 * and only the final chunk may be short; it is empty only when the whole plaintext is.
 */

export const MAGIC = new TextEncoder().encode('TSEAL1\n');
export const CHUNK_BYTES = 65_536;
/** A full chunk on disk: tag ‖ ciphertext. */
export const SEALED_CHUNK_BYTES = CHUNK_BYTES + TAG_BYTES;
export const MAX_CONTEXT_BYTES = 1024;
/** Bytes before the context: magic, chunk size, e.public, wrapped, prefix, u16 length. */
export const FIXED_HEADER_BYTES = MAGIC.length + 4 + 32 + 48 + 16 + 2;
/** Chunk indexes are u32 in the nonce. */
export const MAX_CHUNKS = 2 ** 32;

const WRAP_LABEL = new TextEncoder().encode('threshold/seal/v1/wrap');
const PAYLOAD_LABEL = new TextEncoder().encode('threshold/seal/v1/payload');

/** Why a file could not be sealed or opened. Codes are stable; messages are one line. */
export type SealErrorCode =
  | 'seal_bad_key'
  | 'seal_low_order_key'
  | 'seal_bad_context'
  | 'seal_input_invalid'
  | 'seal_too_large'
  | 'seal_bad_magic'
  | 'seal_unsupported_chunk_size'
  | 'seal_wrong_key'
  | 'seal_truncated'
  | 'seal_bad_length'
  | 'seal_trailing_data'
  | 'seal_chunk_invalid';

export class SealError extends ThresholdError {
  constructor(
    override readonly code: SealErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** What a sealed file says about itself, authenticated with the rest of the header. */
export interface SealContext {
  readonly requestId: string;
  readonly clipIndex: number;
  /** A clip, or the custody record beside it: an opener can tell one from the other. */
  readonly kind?: 'clip' | 'custody';
}

const contextSchema = z.object({
  requestId: z.string().min(1).max(256),
  clipIndex: z.number().int().min(0).max(1_000_000),
  kind: z.enum(['clip', 'custody']).optional(),
});

export function encodeContext(context: SealContext): Uint8Array {
  const parsed = contextSchema.safeParse(context);
  if (!parsed.success) throw new SealError('seal_bad_context', 'the seal context is not valid');
  const bytes = new TextEncoder().encode(JSON.stringify(parsed.data));
  if (bytes.length > MAX_CONTEXT_BYTES) {
    throw new SealError('seal_bad_context', `the seal context exceeds ${MAX_CONTEXT_BYTES} bytes`);
  }
  return bytes;
}

export function decodeContext(bytes: Uint8Array): SealContext {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new SealError('seal_bad_context', 'the header context is not UTF-8 JSON');
  }
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) throw new SealError('seal_bad_context', 'the header context is not valid');
  return parsed.data;
}

/** `H(x)`: the first 32 bytes of SHA-512 over the concatenated parts. */
export function h32(...parts: Uint8Array[]): Uint8Array {
  return nacl.hash(concat(parts)).slice(0, 32);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** True for the shared secret of a low-order point: it would let anyone derive the key. */
function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const byte of bytes) acc |= byte;
  return acc === 0;
}

function sharedSecret(secret: Uint8Array, publicKey: Uint8Array, whose: string): Uint8Array {
  const s = nacl.scalarMult(secret, publicKey);
  if (isAllZero(s)) {
    throw new SealError('seal_low_order_key', `${whose} key is a low-order point`);
  }
  return s;
}

/** A fresh header for one file, and the key and nonce prefix its chunks use. */
export interface NewHeader {
  readonly header: Uint8Array;
  readonly payloadKey: Uint8Array;
  readonly prefix: Uint8Array;
}

/** Steps 1–4 of the format: fresh fileKey, prefix and ephemeral key, wrapped to `recipient`. */
export function newHeader(recipient: Uint8Array, context: SealContext): NewHeader {
  if (recipient.length !== nacl.box.publicKeyLength) {
    throw new SealError('seal_bad_key', 'the recipient key must be 32 bytes');
  }
  const contextBytes = encodeContext(context);
  const fileKey = nacl.randomBytes(32);
  const prefix = nacl.randomBytes(16);
  const ephemeral = nacl.box.keyPair();
  const s = sharedSecret(ephemeral.secretKey, recipient, 'the recipient');
  const wrapKey = h32(WRAP_LABEL, s, ephemeral.publicKey, recipient);
  const wrapped = nacl.secretbox(fileKey, new Uint8Array(24), wrapKey);

  const header = new Uint8Array(FIXED_HEADER_BYTES + contextBytes.length);
  const view = new DataView(header.buffer);
  header.set(MAGIC, 0);
  view.setUint32(MAGIC.length, CHUNK_BYTES);
  header.set(ephemeral.publicKey, 11);
  header.set(wrapped, 43);
  header.set(prefix, 91);
  view.setUint16(107, contextBytes.length);
  header.set(contextBytes, FIXED_HEADER_BYTES);

  const payloadKey = h32(PAYLOAD_LABEL, fileKey, nacl.hash(header));
  wipe(fileKey, ephemeral.secretKey, s, wrapKey);
  return { header, payloadKey, prefix };
}

/** The fixed part of a header, read before the context. */
export interface FixedHeader {
  readonly ephemeral: Uint8Array;
  readonly wrapped: Uint8Array;
  readonly prefix: Uint8Array;
  readonly contextBytes: number;
}

export function parseFixedHeader(bytes: Uint8Array): FixedHeader {
  if (bytes.length < FIXED_HEADER_BYTES) {
    throw new SealError('seal_truncated', 'the file ends inside the header');
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new SealError('seal_bad_magic', 'not a TSEAL1 file');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunkBytes = view.getUint32(MAGIC.length);
  if (chunkBytes !== CHUNK_BYTES) {
    throw new SealError('seal_unsupported_chunk_size', `chunk size ${chunkBytes} is not 65536`);
  }
  const contextBytes = view.getUint16(107);
  if (contextBytes > MAX_CONTEXT_BYTES) {
    throw new SealError(
      'seal_bad_context',
      `the header context exceeds ${MAX_CONTEXT_BYTES} bytes`,
    );
  }
  return {
    ephemeral: bytes.slice(11, 43),
    wrapped: bytes.slice(43, 91),
    prefix: bytes.slice(91, 107),
    contextBytes,
  };
}

/** Unwraps the file key with the recipient's X25519 secret and derives the payload key. */
export function payloadKeyFor(
  fixed: FixedHeader,
  header: Uint8Array,
  boxSecretKey: Uint8Array,
): Uint8Array {
  if (boxSecretKey.length !== nacl.box.secretKeyLength) {
    throw new SealError('seal_bad_key', 'the box secret key must be 32 bytes');
  }
  const recipient = nacl.scalarMult.base(boxSecretKey);
  const s = sharedSecret(boxSecretKey, fixed.ephemeral, 'the ephemeral');
  const wrapKey = h32(WRAP_LABEL, s, fixed.ephemeral, recipient);
  const fileKey = nacl.secretbox.open(fixed.wrapped, new Uint8Array(24), wrapKey);
  wipe(s, wrapKey);
  if (!fileKey) {
    throw new SealError('seal_wrong_key', 'not sealed to this key, or the header was altered');
  }
  const payloadKey = h32(PAYLOAD_LABEL, fileKey, nacl.hash(header));
  wipe(fileKey);
  return payloadKey;
}

/** A nonce buffer holding `prefix`; `setChunk` writes the index and last flag in place. */
export function nonceFor(prefix: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(24);
  nonce.set(prefix, 0);
  return nonce;
}

export function setChunk(nonce: Uint8Array, index: number, last: boolean): void {
  // prefix (16) ‖ 0x000000 ‖ u32be(index) ‖ last
  nonce[16] = 0;
  nonce[17] = 0;
  nonce[18] = 0;
  nonce[19] = (index >>> 24) & 0xff;
  nonce[20] = (index >>> 16) & 0xff;
  nonce[21] = (index >>> 8) & 0xff;
  nonce[22] = index & 0xff;
  nonce[23] = last ? 1 : 0;
}

/** How the bytes after the header split into chunks (step 6: the count comes from the length). */
export interface ChunkLayout {
  readonly count: number;
  /** Plaintext bytes of the final chunk (0 only when it is the only chunk). */
  readonly lastPlainBytes: number;
}

export function chunkLayout(bodyBytes: number): ChunkLayout {
  if (bodyBytes < TAG_BYTES) {
    throw new SealError('seal_truncated', 'the file ends before its first chunk');
  }
  const count = Math.ceil(bodyBytes / SEALED_CHUNK_BYTES);
  const lastSealed = bodyBytes - (count - 1) * SEALED_CHUNK_BYTES;
  if (lastSealed < TAG_BYTES) {
    throw new SealError('seal_bad_length', 'the file ends inside a chunk tag (cut or extended)');
  }
  if (lastSealed === TAG_BYTES && count > 1) {
    throw new SealError('seal_bad_length', 'an empty chunk follows a full one (cut or extended)');
  }
  if (count > MAX_CHUNKS) throw new SealError('seal_too_large', 'too many chunks');
  return { count, lastPlainBytes: lastSealed - TAG_BYTES };
}

export function wipe(...buffers: Uint8Array[]): void {
  for (const buffer of buffers) buffer.fill(0);
}
