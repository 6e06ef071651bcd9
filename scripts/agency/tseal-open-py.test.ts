import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSecretFile } from '../../agent/crypto/key-files.js';
import { chooseSecretbox, chosenSecretbox } from '../../agent/seal/secretbox-choice.js';
import { sealFile } from '../../agent/seal/tseal.js';
import { type SealKit, sealKit } from '../../agent/test-support/seal-kit.js';

/**
 * The independent opener (libsodium through PyNaCl, written from the format text) opens
 * what the agent seals and refuses what was altered: the format is what DESIGN.md says,
 * not whatever the TypeScript happens to do.
 */
const SCRIPT = join(import.meta.dirname, 'tseal_open.py');
let kit: SealKit;
let keyFile: string;

beforeAll(async () => {
  kit = await sealKit();
  keyFile = join(kit.dir, 'box.key');
  await writeSecretFile(keyFile, kit.recipient.secretKey);
});
afterAll(async () => {
  await kit.cleanup();
});

function runOpener(key: string, input: string, output: string) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [SCRIPT, key, input, output], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('tseal_open.py', () => {
  it('is given what libsodium sealed: the agent seals its chunks with it here', () => {
    expect(chosenSecretbox().secretbox.name).toBe('libsodium');
  });

  for (const size of [0, 1, 65_535, 65_536, 65_537, 200_000, 4 * 1024 * 1024 + 3]) {
    it(`opens ${size} bytes sealed by the agent`, async () => {
      const { sealedPath, plaintext } = await kit.sealRandom(`p${size}`, size);
      const output = join(kit.dir, `p${size}.py.out`);
      const { code, stderr } = await runOpener(keyFile, sealedPath, output);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(Buffer.compare(await readFile(output), plaintext)).toBe(0);
    });
  }

  it('opens what the tweetnacl fallback sealed', async () => {
    const { plainPath, plaintext } = await kit.sealRandom('fallback', 3 * 65_536 + 99);
    const sealedPath = join(kit.dir, 'fallback.tweetnacl.tseal');
    await sealFile({
      input: plainPath,
      output: sealedPath,
      recipient: kit.recipient.publicKey,
      context: { requestId: 'AAAAAAAAAAAAAAAAAAAAAA', clipIndex: 1 },
      secretbox: chooseSecretbox(() => {
        throw new Error('no addon');
      }),
    });
    const output = join(kit.dir, 'fallback.py.out');
    const { code, stderr } = await runOpener(keyFile, sealedPath, output);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(Buffer.compare(await readFile(output), plaintext)).toBe(0);
  });

  it('refuses altered, cut, extended and wrongly keyed files, writing nothing', async () => {
    const { sealedPath } = await kit.sealRandom('t', 140_000);
    const sealed = await readFile(sealedPath);
    const header = 109 + sealed.readUInt16BE(107);
    const flip = (at: number) => {
      const copy = Buffer.from(sealed);
      copy[at] = (copy[at] ?? 0) ^ 0x20;
      return copy;
    };
    const lowOrder = Buffer.from(sealed);
    lowOrder.fill(0, 11, 43); // the ephemeral key: the all-zero point
    const otherKey = join(kit.dir, 'other.key');
    await writeSecretFile(otherKey, nacl.box.keyPair().secretKey);
    const cases: [string, Buffer, string][] = [
      ['header byte', flip(50), keyFile],
      ['context byte', flip(header - 2), keyFile],
      ['chunk 1 byte', flip(header + 65_552 + 100), keyFile],
      ['final chunk byte', flip(sealed.length - 1), keyFile],
      ['cut at boundary', sealed.subarray(0, header + 2 * 65_552), keyFile],
      ['cut mid chunk', sealed.subarray(0, sealed.length - 5), keyFile],
      ['trailing bytes', Buffer.concat([sealed, Buffer.from('x')]), keyFile],
      ['wrong key', sealed, otherKey],
      ['low-order ephemeral key', lowOrder, keyFile],
    ];
    for (const [what, bytes, key] of cases) {
      const input = join(kit.dir, 'bad.tseal');
      await writeFile(input, bytes);
      const before = await kit.files();
      const { code, stderr } = await runOpener(key, input, join(kit.dir, 'bad.out'));
      expect([what, code]).toEqual([what, 1]);
      expect(stderr).toMatch(/^tseal_open: .+\n$/);
      expect(await kit.files()).toEqual(before);
    }
  }, 60_000);
});
