import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import { AtomicOutput } from './atomic-output.js';
import { BOX_OFFSET, type BulkSecretbox, MESSAGE_OFFSET } from './bulk-secretbox.js';
import { ChunkRing } from './chunk-ring.js';
import { type SecretboxChoice, secretboxFor } from './secretbox-choice.js';
import {
  CHUNK_BYTES,
  MAX_CHUNKS,
  newHeader,
  nonceFor,
  SEALED_CHUNK_BYTES,
  type SealContext,
  SealError,
  setChunk,
  wipe,
} from './tseal-format.js';

/** What the export hands to the seal. */
export interface SealFileOptions {
  /** A file path, or a stream of bytes (a Readable or any async iterable of byte chunks). */
  readonly input: string | Readable | AsyncIterable<Uint8Array>;
  /** Where the sealed file appears, complete, once sealing succeeded. */
  readonly output: string;
  /** The request's recipient X25519 public key. */
  readonly recipient: Uint8Array;
  readonly context: SealContext;
  readonly signal?: AbortSignal;
  /** Told when sealing falls back to tweetnacl (see secretbox-choice.ts). */
  readonly logger?: Logger;
  /** The chunks' secretbox: this process's choice (libsodium when it loads) unless given. */
  readonly secretbox?: SecretboxChoice;
}

/** Hashes (hex SHA-256) and sizes of what was sealed, for the custody record and upload. */
export interface SealResult {
  readonly sha256: string;
  readonly bytes: number;
  readonly plaintextSha256: string;
  readonly plaintextBytes: number;
}

/** Fills `buffer[offset..offset+length]` with the next bytes; fewer only at the end. */
type Fill = (buffer: Uint8Array, offset: number, length: number) => Promise<number>;

/** Ring depth: chunk i being sealed, i+1 read, i+2 reading, i-1 writing. */
const SLOTS = 4;

/**
 * Seals `input` to `recipient` in TSEAL1 (see tseal-format.ts). Streams in 64 KiB chunks
 * through a fixed ring of buffers, each sealed in place by libsodium (secretbox-choice.ts);
 * hashes are computed on the way. The output is written to a temporary file, flushed
 * behind the writes, fsynced, renamed into place and its directory fsynced.
 */
export async function sealFile(options: SealFileOptions): Promise<SealResult> {
  const secretbox = secretboxFor(options.secretbox, options.logger, 'sealing');
  const { header, payloadKey, prefix } = newHeader(options.recipient, options.context);
  const source = await openSource(options.input).catch((err: unknown) => {
    wipe(payloadKey);
    throw err;
  });
  let output: AtomicOutput | undefined;
  const ring = new ChunkRing(SLOTS, MESSAGE_OFFSET + CHUNK_BYTES);
  try {
    output = await AtomicOutput.create(options.output);
    const result = await sealChunks(source.fill, output, ring, {
      header,
      payloadKey,
      prefix,
      secretbox,
      signal: options.signal,
    });
    await output.commit();
    return result;
  } catch (err) {
    await ring.settle().catch(() => undefined); // the first error is the one to report
    await output?.abort();
    throw err;
  } finally {
    wipe(payloadKey);
    ring.wipe();
    await source.close();
  }
}

interface SealKeys {
  readonly header: Uint8Array;
  readonly payloadKey: Uint8Array;
  readonly prefix: Uint8Array;
  readonly secretbox: BulkSecretbox;
  readonly signal: AbortSignal | undefined;
}

async function sealChunks(
  fill: Fill,
  out: AtomicOutput,
  ring: ChunkRing,
  keys: SealKeys,
): Promise<SealResult> {
  const plainHash = createHash('sha256');
  const sealedHash = createHash('sha256').update(keys.header);
  await out.write(keys.header, 0);
  let sealedBytes = keys.header.length;
  const nonce = nonceFor(keys.prefix);
  const readChunk = (buffer: Uint8Array) => fill(buffer, MESSAGE_OFFSET, CHUNK_BYTES);

  await ring.startRead(0, readChunk);
  let length = await ring.read(0);
  if (length === CHUNK_BYTES) await ring.startRead(1, readChunk);
  let plaintextBytes = 0;
  for (let index = 0; ; index++) {
    keys.signal?.throwIfAborted();
    if (index >= MAX_CHUNKS) throw new SealError('seal_too_large', 'input exceeds 2^32 chunks');
    // The nonce says whether this chunk is the last, so look one chunk ahead first.
    let next = 0;
    if (length === CHUNK_BYTES) {
      next = await ring.read(index + 1);
      if (next === CHUNK_BYTES) await ring.startRead(index + 2, readChunk);
    }
    const last = next === 0;
    const buffer = ring.buffer(index);
    plainHash.update(buffer.subarray(MESSAGE_OFFSET, MESSAGE_OFFSET + length));
    setChunk(nonce, index, last);
    keys.secretbox.seal(buffer, length, nonce, keys.payloadKey);
    const box = buffer.subarray(BOX_OFFSET, MESSAGE_OFFSET + length);
    sealedHash.update(box);
    const position = keys.header.length + index * SEALED_CHUNK_BYTES;
    ring.startWrite(index, () => out.write(box, position));
    plaintextBytes += length;
    sealedBytes += box.length;
    if (last) break;
    length = next;
  }
  await ring.settle();
  return {
    sha256: sealedHash.digest('hex'),
    bytes: sealedBytes,
    plaintextSha256: plainHash.digest('hex'),
    plaintextBytes,
  };
}

interface Source {
  readonly fill: Fill;
  close(): Promise<void>;
}

async function openSource(input: SealFileOptions['input']): Promise<Source> {
  if (typeof input === 'string') return fileSource(await open(input, 'r'));
  return iterableSource(input);
}

/** Positioned reads from a file, repeated over short reads until full or at the end. */
function fileSource(handle: FileHandle): Source {
  let position = 0;
  return {
    fill: async (buffer, offset, length) => {
      const start = position;
      position += length; // reads are issued in order; each owns its range
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, offset + done, length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
    close: () => handle.close(),
  };
}

/**
 * Bytes pulled from an async iterable. A chunk the iterable yields is copied out before
 * the next one is asked for, so a producer may reuse its buffer. Fills must not overlap;
 * `sealChunks` starts one only after the previous one resolved.
 */
function iterableSource(input: Readable | AsyncIterable<Uint8Array>): Source {
  const iterator = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let rest: Uint8Array = new Uint8Array(0);
  let ended = false;
  return {
    fill: async (buffer, offset, length) => {
      let done = 0;
      while (done < length) {
        if (rest.length === 0) {
          if (ended) break;
          const next = await iterator.next();
          if (next.done) {
            ended = true;
            break;
          }
          if (!(next.value instanceof Uint8Array)) {
            throw new SealError('seal_input_invalid', 'the input stream yielded a non-byte chunk');
          }
          rest = next.value;
        }
        const take = Math.min(length - done, rest.length);
        buffer.set(rest.subarray(0, take), offset + done);
        rest = rest.subarray(take);
        done += take;
      }
      return done;
    },
    close: async () => {
      // Stops a stream we did not read to its end (after an error), releasing its source.
      if (!ended) await iterator.return?.();
    },
  };
}
