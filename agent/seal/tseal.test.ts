import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SealKit, sealKit, sha256 } from '../test-support/seal-kit.js';
import { CHUNK_BYTES, openSealedBytes, openSealedFile, SealError, sealFile } from './tseal.js';
import { FIXED_HEADER_BYTES } from './tseal-format.js';

let kit: SealKit;
beforeEach(async () => {
  kit = await sealKit();
});
afterEach(async () => {
  await kit.cleanup();
});

async function roundTrip(size: number): Promise<void> {
  const { sealedPath, plaintext, result } = await kit.sealRandom(`p${size}`, size);
  const sealed = await readFile(sealedPath);
  const chunks = Math.max(1, Math.ceil(size / CHUNK_BYTES));
  const headerBytes = FIXED_HEADER_BYTES + (sealed.readUInt16BE(107) as number);
  expect(sealed.length).toBe(headerBytes + size + 16 * chunks);
  expect(result).toEqual({
    sha256: sha256(sealed),
    bytes: sealed.length,
    plaintextSha256: sha256(plaintext),
    plaintextBytes: size,
  });
  const out = join(kit.dir, `p${size}.out`);
  const opened = await openSealedFile({
    input: sealedPath,
    output: out,
    boxSecretKey: kit.recipient.secretKey,
  });
  expect(Buffer.compare(await readFile(out), plaintext)).toBe(0);
  expect(opened).toEqual({
    context: { requestId: 'AAAAAAAAAAAAAAAAAAAAAA', clipIndex: 0 },
    sha256: result.sha256,
    bytes: result.bytes,
    plaintextSha256: result.plaintextSha256,
    plaintextBytes: size,
  });
}

describe('TSEAL1 round trip', () => {
  for (const size of [0, 1, 65_535, 65_536, 65_537, 131_072]) {
    it(`seals and opens ${size} bytes`, async () => {
      await roundTrip(size);
    });
  }

  it('round-trips random sizes up to 8 MiB', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 8 * 1024 * 1024 }), (size) => roundTrip(size)),
      { numRuns: 6 },
    );
  }, 120_000);

  it('writes the header the format specifies', async () => {
    const { sealedPath } = await kit.sealRandom('h', 10);
    const sealed = await readFile(sealedPath);
    expect(sealed.subarray(0, 7).toString('latin1')).toBe('TSEAL1\n');
    expect(sealed.readUInt32BE(7)).toBe(65_536);
    const n = sealed.readUInt16BE(107);
    expect(JSON.parse(sealed.subarray(109, 109 + n).toString('utf8'))).toEqual({
      requestId: 'AAAAAAAAAAAAAAAAAAAAAA',
      clipIndex: 0,
    });
    expect(sealed.length).toBe(109 + n + 10 + 16);
  });

  it('uses fresh keys for every file: the same plaintext seals differently', async () => {
    const a = await kit.sealRandom('same', 1000);
    const b = await sealFile({
      input: a.plainPath,
      output: join(kit.dir, 'same.again'),
      recipient: kit.recipient.publicKey,
      context: { requestId: 'AAAAAAAAAAAAAAAAAAAAAA', clipIndex: 0 },
    });
    expect(b.plaintextSha256).toBe(a.result.plaintextSha256);
    expect(b.sha256).not.toBe(a.result.sha256);
  });

  it('seals a Readable stream and an iterable that reuses its buffer', async () => {
    const { plaintext, plainPath } = await kit.sealRandom('s', 300_001);
    // A producer that yields odd-sized pieces of one buffer it overwrites each time.
    async function* reusing(): AsyncIterable<Uint8Array> {
      const piece = new Uint8Array(7_919);
      for (let offset = 0; offset < plaintext.length; offset += piece.length) {
        const part = plaintext.subarray(offset, offset + piece.length);
        piece.set(part);
        yield piece.subarray(0, part.length);
        piece.fill(0xaa);
      }
    }
    const inputs = [Readable.from([plaintext.subarray(0, 5), plaintext.subarray(5)]), reusing()];
    for (const [i, input] of inputs.entries()) {
      const output = join(kit.dir, `stream${i}.tseal`);
      const result = await sealFile({
        input,
        output,
        recipient: kit.recipient.publicKey,
        context: { requestId: 'r1', clipIndex: i, kind: 'clip' },
      });
      expect(result.plaintextSha256).toBe(sha256(plaintext));
      const opened = await openSealedBytes(await readFile(output), kit.recipient.secretKey);
      expect(Buffer.compare(Buffer.from(opened.plaintext), plaintext)).toBe(0);
      expect(opened.context).toEqual({ requestId: 'r1', clipIndex: i, kind: 'clip' });
    }
    expect((await stat(plainPath)).size).toBe(300_001);
  });

  it('refuses the wrong key and leaves no output', async () => {
    const { sealedPath } = await kit.sealRandom('w', 70_000);
    const before = await kit.files();
    const error = await openSealedFile({
      input: sealedPath,
      output: join(kit.dir, 'w.out'),
      boxSecretKey: nacl.box.keyPair().secretKey,
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SealError);
    expect((error as SealError).code).toBe('seal_wrong_key');
    expect(await kit.files()).toEqual(before);
  });

  it('stops on abort and leaves no output', async () => {
    const { plainPath } = await kit.sealRandom('a', 200_000);
    const before = await kit.files();
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(
      sealFile({
        input: plainPath,
        output: join(kit.dir, 'a.out'),
        recipient: kit.recipient.publicKey,
        context: { requestId: 'r', clipIndex: 0 },
        signal: controller.signal,
      }),
    ).rejects.toThrow('stopped');
    expect(await kit.files()).toEqual(before);
  });

  it('fails with the stream error and leaves no output when the input stream breaks', async () => {
    const before = await kit.files();
    async function* breaking(): AsyncIterable<Uint8Array> {
      yield new Uint8Array(200_000);
      throw new Error('camera file went away');
    }
    await expect(
      sealFile({
        input: breaking(),
        output: join(kit.dir, 'broken.tseal'),
        recipient: kit.recipient.publicKey,
        context: { requestId: 'r', clipIndex: 0 },
      }),
    ).rejects.toThrow('camera file went away');
    expect(await kit.files()).toEqual(before);
  });

  it('refuses an invalid context or recipient before writing anything', async () => {
    const { plainPath } = await kit.sealRandom('c', 10);
    const before = await kit.files();
    const attempts = [
      {
        recipient: new Uint8Array(31),
        context: { requestId: 'r', clipIndex: 0 },
        code: 'seal_bad_key',
      },
      {
        recipient: kit.recipient.publicKey,
        context: { requestId: 'x'.repeat(257), clipIndex: 0 },
        code: 'seal_bad_context',
      },
      {
        recipient: kit.recipient.publicKey,
        context: { requestId: 'r', clipIndex: -1 },
        code: 'seal_bad_context',
      },
    ];
    for (const { recipient, context, code } of attempts) {
      const error = await sealFile({
        input: plainPath,
        output: join(kit.dir, 'c.out'),
        recipient,
        context,
      }).catch((err: unknown) => err);
      expect((error as SealError).code).toBe(code);
    }
    expect(await kit.files()).toEqual(before);
  });
});
