import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SealedFixture, type SealKit, sealKit } from '../test-support/seal-kit.js';
import { openSealedBytes, openSealedFile, SealError, sealFile } from './tseal.js';

/**
 * Promise 5: tampering, truncation and reordering are detected, and no plaintext is
 * released. The fixture is a little over two chunks: chunks 0 and 1 full, chunk 2 short.
 */
const FULL = 65_536 + 16;
let kit: SealKit;
let fixture: SealedFixture;
let sealed: Buffer;
let headerBytes: number;

beforeAll(async () => {
  kit = await sealKit();
  fixture = await kit.sealRandom('clip', 2 * 65_536 + 1_000);
  sealed = await readFile(fixture.sealedPath);
  headerBytes = 109 + sealed.readUInt16BE(107);
  expect(sealed.length).toBe(headerBytes + 2 * FULL + 1_016);
});
afterAll(async () => {
  await kit.cleanup();
});

const chunk = (i: number) =>
  sealed.subarray(headerBytes + i * FULL, Math.min(sealed.length, headerBytes + (i + 1) * FULL));
const header = () => sealed.subarray(0, headerBytes);

/** Opens `bytes` as a file; returns the error code, checking that no output appeared. */
async function refusal(bytes: Uint8Array): Promise<string> {
  const input = join(kit.dir, 'tampered.tseal');
  await writeFile(input, bytes);
  const before = await kit.files();
  const error = await openSealedFile({
    input,
    output: join(kit.dir, 'tampered.out'),
    boxSecretKey: kit.recipient.secretKey,
  }).catch((err: unknown) => err);
  expect(await kit.files()).toEqual(before);
  if (!(error instanceof SealError)) throw new Error(`expected a SealError, got ${String(error)}`);
  expect(error.message).not.toContain('\n');
  return error.code;
}

/** The same through the in-memory opener (fast enough for thousands of flips). */
async function memoryRefusal(bytes: Uint8Array): Promise<string> {
  const error = await openSealedBytes(bytes, kit.recipient.secretKey).catch((err: unknown) => err);
  if (!(error instanceof SealError)) throw new Error(`flip not detected: ${String(error)}`);
  return error.code;
}

function flipped(at: number, mask = 0x01): Buffer {
  const copy = Buffer.from(sealed);
  copy[at] = (copy[at] ?? 0) ^ mask;
  return copy;
}

describe('TSEAL1 refuses tampering', () => {
  it('opens the untouched fixture (the baseline the other cases change)', async () => {
    const opened = await openSealedBytes(sealed, kit.recipient.secretKey);
    expect(Buffer.compare(Buffer.from(opened.plaintext), fixture.plaintext)).toBe(0);
  });

  it('refuses every single-byte flip of the header, with no output', async () => {
    for (let at = 0; at < headerBytes; at++) {
      expect(await refusal(flipped(at))).toMatch(/^seal_/);
    }
  }, 60_000);

  it('refuses flips across every chunk: each tag byte, edges, and a random sample', async () => {
    const positions = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const start = headerBytes + i * FULL;
      const end = Math.min(sealed.length, start + FULL);
      for (let at = start; at < Math.min(end, start + 64); at++) positions.add(at); // tag + first bytes
      for (let at = Math.max(start, end - 48); at < end; at++) positions.add(at);
      for (const r of randomBytes(400).values()) positions.add(start + ((r * 163) % (end - start)));
    }
    for (const at of positions) {
      expect(await memoryRefusal(flipped(at, 0x80))).toBe('seal_chunk_invalid');
    }
    // A sample through the file opener too, checking nothing is left behind.
    for (const at of [...positions].filter((_, i) => i % 40 === 0)) {
      expect(await refusal(flipped(at))).toBe('seal_chunk_invalid');
    }
  }, 120_000);

  it('refuses a cut at every chunk boundary and inside the header', async () => {
    const cuts: [number, string][] = [
      [0, 'seal_truncated'],
      [6, 'seal_truncated'],
      [108, 'seal_truncated'],
      [headerBytes - 1, 'seal_truncated'],
      [headerBytes, 'seal_truncated'],
      [headerBytes + FULL, 'seal_truncated'],
      [headerBytes + 2 * FULL, 'seal_truncated'],
      [headerBytes + 2 * FULL + 10, 'seal_bad_length'],
      [sealed.length - 1, 'seal_chunk_invalid'],
      [headerBytes + FULL - 1, 'seal_chunk_invalid'],
    ];
    for (const [at, code] of cuts) {
      expect([at, await refusal(sealed.subarray(0, at))]).toEqual([at, code]);
    }
  });

  it('refuses swapped, duplicated and dropped chunks', async () => {
    const cases: [string, Buffer, string][] = [
      ['swap 0,1', Buffer.concat([header(), chunk(1), chunk(0), chunk(2)]), 'seal_chunk_invalid'],
      ['dup 0 as 1', Buffer.concat([header(), chunk(0), chunk(0), chunk(2)]), 'seal_chunk_invalid'],
      [
        'dup 1',
        Buffer.concat([header(), chunk(0), chunk(1), chunk(1), chunk(2)]),
        'seal_chunk_invalid',
      ],
      ['drop 1', Buffer.concat([header(), chunk(0), chunk(2)]), 'seal_chunk_invalid'],
      ['drop final', Buffer.concat([header(), chunk(0), chunk(1)]), 'seal_truncated'],
      ['final twice', Buffer.concat([sealed, chunk(2)]), 'seal_chunk_invalid'],
    ];
    for (const [what, bytes, code] of cases) {
      expect([what, await refusal(bytes)]).toEqual([what, code]);
    }
  });

  it('refuses trailing bytes', async () => {
    for (const extra of [1, 15, 16, 17, 1_000, FULL]) {
      const code = await refusal(Buffer.concat([sealed, randomBytes(extra)]));
      expect(['seal_chunk_invalid', 'seal_bad_length']).toContain(code);
    }
    // A file of whole chunks with a full extra chunk: the final one is found not last.
    const whole = await kit.sealRandom('whole', 2 * 65_536);
    const bytes = await readFile(whole.sealedPath);
    const wholeHeader = 109 + bytes.readUInt16BE(107);
    const lastChunk = bytes.subarray(wholeHeader + FULL);
    expect(await refusal(Buffer.concat([bytes, lastChunk]))).toBe('seal_trailing_data');
    expect(await refusal(Buffer.concat([bytes, randomBytes(10)]))).toBe('seal_bad_length');
  });

  it('refuses a header from another file sealed to the same key', async () => {
    const other = await kit.sealRandom('other', 10);
    const otherBytes = await readFile(other.sealedPath);
    const otherHeader = otherBytes.subarray(0, 109 + otherBytes.readUInt16BE(107));
    expect(await refusal(Buffer.concat([otherHeader, sealed.subarray(headerBytes)]))).toBe(
      'seal_chunk_invalid',
    );
  });
});

/** The small-order points of Curve25519 (and non-canonical encodings of them). */
function lowOrderPoints(): Uint8Array[] {
  const p = 2n ** 255n - 19n;
  const values = [
    0n,
    1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    p - 1n,
    p,
    p + 1n,
  ];
  const encode = (value: bigint) => {
    const bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
    return bytes;
  };
  // The top bit is ignored by X25519, so these are the same points again.
  return [...values.map(encode), ...values.slice(0, 4).map((v) => encode(v + 2n ** 255n))];
}

describe('TSEAL1 refuses low-order keys', () => {
  it('will not seal to a low-order recipient key', async () => {
    const points = lowOrderPoints();
    expect(points).toHaveLength(11);
    const before = await kit.files();
    for (const point of points) {
      const error = await sealFile({
        input: fixture.plainPath,
        output: join(kit.dir, 'low.tseal'),
        recipient: point,
        context: { requestId: 'r', clipIndex: 0 },
      }).catch((err: unknown) => err);
      expect((error as SealError).code).toBe('seal_low_order_key');
    }
    expect(await kit.files()).toEqual(before);
  });

  it('will not open a file whose ephemeral key is a low-order point', async () => {
    for (const point of lowOrderPoints()) {
      const bytes = Buffer.from(sealed);
      bytes.set(point, 11);
      expect(await refusal(bytes)).toBe('seal_low_order_key');
    }
  });

  it('seals to an ordinary key (the refusal is about the point, not any key)', async () => {
    const result = await sealFile({
      input: fixture.plainPath,
      output: join(kit.dir, 'ok.tseal'),
      recipient: nacl.box.keyPair().publicKey,
      context: { requestId: 'r', clipIndex: 0 },
    });
    expect(result.plaintextBytes).toBe(fixture.plaintext.length);
  });
});
