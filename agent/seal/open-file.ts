import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { AtomicOutput } from './atomic-output.js';
import { BOX_OFFSET, type BulkSecretbox, MESSAGE_OFFSET, TAG_BYTES } from './bulk-secretbox.js';
import { ChunkRing } from './chunk-ring.js';
import { type SecretboxChoice, secretboxFor } from './secretbox-choice.js';
import {
  CHUNK_BYTES,
  chunkLayout,
  decodeContext,
  FIXED_HEADER_BYTES,
  nonceFor,
  parseFixedHeader,
  payloadKeyFor,
  SEALED_CHUNK_BYTES,
  type SealContext,
  SealError,
  setChunk,
  wipe,
} from './tseal-format.js';

/** What an opened file held, all of it authenticated. Hashes are hex SHA-256. */
export interface OpenResult {
  readonly context: SealContext;
  /** Of the sealed file as read. */
  readonly sha256: string;
  readonly bytes: number;
  readonly plaintextSha256: string;
  readonly plaintextBytes: number;
}

export interface OpenFileOptions {
  readonly input: string;
  readonly output: string;
  /** The recipient's X25519 secret key. */
  readonly boxSecretKey: Uint8Array;
  /**
   * Runs once every chunk has authenticated, before the plaintext is put at `output`; if
   * it throws, nothing appears there. The agency opener checks the custody record here.
   */
  readonly beforeCommit?: (result: OpenResult) => Promise<void> | void;
  readonly signal?: AbortSignal;
  /** Told when opening falls back to tweetnacl (see secretbox-choice.ts). */
  readonly logger?: Logger;
  /** The chunks' secretbox: this process's choice (libsodium when it loads) unless given. */
  readonly secretbox?: SecretboxChoice;
}

/** Positioned reads of a sealed file (or bytes) of a known size. */
interface SealedSource {
  readonly size: number;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
}

type PlainSink = (bytes: Uint8Array, position: number) => Promise<void>;

/** Chunk i opening, i+1 and i+2 reading, i-1 writing. */
const SLOTS = 4;

/**
 * Opens a TSEAL1 file into `output`. The plaintext is written to a temporary file and
 * renamed into place only after every chunk authenticated (and `beforeCommit` passed).
 * A file that is not intact throws a `SealError`; on any failure, no plaintext is left at
 * `output` (a crash mid-way can leave only a `.*.part` file beside it).
 */
export async function openSealedFile(options: OpenFileOptions): Promise<OpenResult> {
  const secretbox = secretboxFor(options.secretbox, options.logger, 'opening');
  const input = await open(options.input, 'r');
  let output: AtomicOutput | undefined;
  try {
    const source = await fileSource(input);
    output = await AtomicOutput.create(options.output);
    const sink = output;
    const result = await openChunks(source, (bytes, position) => sink.write(bytes, position), {
      boxSecretKey: options.boxSecretKey,
      secretbox,
      signal: options.signal,
    });
    await options.beforeCommit?.(result);
    await output.commit();
    return result;
  } catch (err) {
    await output?.abort();
    throw err;
  } finally {
    await input.close();
  }
}

/** Opens a small sealed file held in memory (a custody record); same checks. */
export async function openSealedBytes(
  sealed: Uint8Array,
  boxSecretKey: Uint8Array,
  options: { readonly logger?: Logger; readonly secretbox?: SecretboxChoice } = {},
): Promise<OpenResult & { readonly plaintext: Uint8Array }> {
  const secretbox = secretboxFor(options.secretbox, options.logger, 'opening');
  const source: SealedSource = {
    size: sealed.length,
    read: async (buffer, offset, length, position) => {
      const part = sealed.subarray(position, position + length);
      buffer.set(part, offset);
      return part.length;
    },
  };
  // The plaintext is never longer than the sealed bytes.
  const plaintext = new Uint8Array(sealed.length);
  const result = await openChunks(
    source,
    async (bytes, position) => plaintext.set(bytes, position),
    { boxSecretKey, secretbox, signal: undefined },
  );
  return { ...result, plaintext: plaintext.subarray(0, result.plaintextBytes) };
}

interface OpenKeys {
  readonly boxSecretKey: Uint8Array;
  readonly secretbox: BulkSecretbox;
  readonly signal: AbortSignal | undefined;
}

async function openChunks(
  source: SealedSource,
  sink: PlainSink,
  { boxSecretKey, secretbox, signal }: OpenKeys,
): Promise<OpenResult> {
  const header = await readHeader(source);
  const fixed = parseFixedHeader(header);
  // Parsed now to fail early; it is authenticated (through payloadKey) only by chunk 0.
  const context = decodeContext(header.subarray(FIXED_HEADER_BYTES));
  const payloadKey = payloadKeyFor(fixed, header, boxSecretKey);
  const ring = new ChunkRing(SLOTS, MESSAGE_OFFSET + CHUNK_BYTES);
  try {
    const layout = chunkLayout(source.size - header.length);
    const sealedLength = (index: number) =>
      index === layout.count - 1 ? layout.lastPlainBytes + TAG_BYTES : SEALED_CHUNK_BYTES;
    const startRead = (index: number) =>
      index < layout.count
        ? ring.startRead(index, (buffer) =>
            source.read(
              buffer,
              BOX_OFFSET,
              sealedLength(index),
              header.length + index * SEALED_CHUNK_BYTES,
            ),
          )
        : Promise.resolve();
    const sealedHash = createHash('sha256').update(header);
    const plainHash = createHash('sha256');
    const nonce = nonceFor(fixed.prefix);
    await startRead(0);
    await startRead(1);
    for (let index = 0; index < layout.count; index++) {
      signal?.throwIfAborted();
      await startRead(index + 2);
      const got = await ring.read(index);
      if (got !== sealedLength(index)) {
        throw new SealError('seal_truncated', 'the file shrank while it was being opened');
      }
      const buffer = ring.buffer(index);
      sealedHash.update(buffer.subarray(BOX_OFFSET, BOX_OFFSET + got));
      const plainBytes = got - TAG_BYTES;
      const last = index === layout.count - 1;
      openChunk(secretbox, { buffer, plainBytes, nonce, key: payloadKey, index, last });
      const plain = buffer.subarray(MESSAGE_OFFSET, MESSAGE_OFFSET + plainBytes);
      plainHash.update(plain);
      const position = index * CHUNK_BYTES;
      ring.startWrite(index, () => sink(plain, position));
    }
    await ring.settle();
    return {
      context,
      sha256: sealedHash.digest('hex'),
      bytes: source.size,
      plaintextSha256: plainHash.digest('hex'),
      plaintextBytes: (layout.count - 1) * CHUNK_BYTES + layout.lastPlainBytes,
    };
  } catch (err) {
    await ring.settle().catch(() => undefined); // the first error is the one to report
    throw err;
  } finally {
    wipe(payloadKey);
    ring.wipe();
  }
}

/**
 * Opens chunk `index` in place or throws. On failure it tries the other `last` flag,
 * only to name the failure: a chunk sealed as not-last where the file ends means chunks
 * were cut off; one sealed as last with more after it means data was appended.
 */
function openChunk(
  secretbox: BulkSecretbox,
  chunk: {
    buffer: Uint8Array;
    plainBytes: number;
    nonce: Uint8Array;
    key: Uint8Array;
    index: number;
    last: boolean;
  },
): void {
  const { buffer, plainBytes, nonce, key, index, last } = chunk;
  setChunk(nonce, index, last);
  if (secretbox.open(buffer, plainBytes, nonce, key)) return;
  setChunk(nonce, index, !last);
  if (secretbox.open(buffer, plainBytes, nonce, key)) {
    throw last
      ? new SealError('seal_truncated', `the file ends after chunk ${index}, not its final one`)
      : new SealError('seal_trailing_data', `data follows the final chunk (chunk ${index})`);
  }
  throw new SealError(
    'seal_chunk_invalid',
    `chunk ${index} failed authentication (altered, reordered or duplicated)`,
  );
}

async function readHeader(source: SealedSource): Promise<Uint8Array> {
  const fixed = new Uint8Array(FIXED_HEADER_BYTES);
  const got = await source.read(fixed, 0, FIXED_HEADER_BYTES, 0);
  const { contextBytes } = parseFixedHeader(fixed.subarray(0, got));
  const header = new Uint8Array(FIXED_HEADER_BYTES + contextBytes);
  header.set(fixed);
  const gotContext = await source.read(
    header,
    FIXED_HEADER_BYTES,
    contextBytes,
    FIXED_HEADER_BYTES,
  );
  if (gotContext !== contextBytes) {
    throw new SealError('seal_truncated', 'the file ends inside the header');
  }
  return header;
}

async function fileSource(handle: FileHandle): Promise<SealedSource> {
  const { size } = await handle.stat();
  return {
    size,
    read: async (buffer, offset, length, position) => {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(
          buffer,
          offset + done,
          length - done,
          position + done,
        );
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
  };
}
