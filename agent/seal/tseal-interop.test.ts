import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { type SealKit, sealKit, sha256 } from '../test-support/seal-kit.js';
import { referenceOpen, referenceSeal } from '../test-support/tseal-reference.js';
import { chooseSecretbox, chosenSecretbox } from './secretbox-choice.js';
import { openSealedBytes, openSealedFile, sealFile } from './tseal.js';

/**
 * The agent seals its chunks with libsodium; what it writes must be TSEAL1 as DESIGN.md
 * says, whoever opens it. Both ways against the tweetnacl reference (written from the
 * format text, sharing no code with the agent), and both ways between the agent's two
 * chunk secretboxes (libsodium, and the tweetnacl fallback). PyNaCl is the third opener
 * (scripts/agency/tseal-open-py.test.ts).
 */
const SIZES = [0, 1, 65_535, 65_536, 65_537, 3 * 65_536, 3 * 65_536 + 7];
const CONTEXT = { requestId: 'interop-request', clipIndex: 2, kind: 'clip' as const };

let kit: SealKit;
beforeAll(async () => {
  kit = await sealKit();
});
afterAll(async () => {
  await kit.cleanup();
});

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

const noAddon = () =>
  chooseSecretbox(() => {
    throw new Error('cannot load sodium-native here');
  });

describe('TSEAL1 interop', () => {
  it('runs on libsodium, so the cases below test it', () => {
    expect(chosenSecretbox().secretbox.name).toBe('libsodium');
  });

  for (const size of SIZES) {
    it(`${size} bytes: the reference opens what the agent seals, and the agent what the reference seals`, async () => {
      const plaintext = randomBytes(size);
      const sealedPath = join(kit.dir, `agent-${size}.tseal`);
      const result = await sealFile({
        input: Readable.from([plaintext]),
        output: sealedPath,
        recipient: kit.recipient.publicKey,
        context: CONTEXT,
      });
      const opened = referenceOpen(await readFile(sealedPath), kit.recipient.secretKey);
      expect(opened.context).toEqual(CONTEXT);
      expect(sha256(opened.plaintext)).toBe(sha256(plaintext));
      expect(result.plaintextSha256).toBe(sha256(plaintext));

      const reference = referenceSeal(plaintext, kit.recipient.publicKey, CONTEXT);
      const referencePath = join(kit.dir, `reference-${size}.tseal`);
      await writeFile(referencePath, reference);
      const output = join(kit.dir, `reference-${size}.out`);
      const byAgent = await openSealedFile({
        input: referencePath,
        output,
        boxSecretKey: kit.recipient.secretKey,
      });
      expect(byAgent).toEqual({
        context: CONTEXT,
        sha256: sha256(reference),
        bytes: reference.length,
        plaintextSha256: sha256(plaintext),
        plaintextBytes: size,
      });
      expect(sha256(await readFile(output))).toBe(sha256(plaintext));
      const inMemory = await openSealedBytes(reference, kit.recipient.secretKey);
      expect(sha256(inMemory.plaintext)).toBe(sha256(plaintext));
    });
  }

  it('the reference refuses what the agent sealed once a byte changes', async () => {
    const sealedPath = join(kit.dir, 'flip.tseal');
    await sealFile({
      input: Readable.from([randomBytes(2 * 65_536 + 10)]),
      output: sealedPath,
      recipient: kit.recipient.publicKey,
      context: CONTEXT,
    });
    const sealed = await readFile(sealedPath);
    for (const at of [20, 150, sealed.length - 65_552 - 20, sealed.length - 1]) {
      const copy = Buffer.from(sealed);
      copy[at] = (copy[at] ?? 0) ^ 0x04;
      expect(() => referenceOpen(copy, kit.recipient.secretKey)).toThrow(/not intact/);
    }
    expect(referenceOpen(sealed, kit.recipient.secretKey).plaintext.length).toBe(2 * 65_536 + 10);
  });

  it('the tweetnacl fallback and libsodium open each other, and the fallback is logged', async () => {
    const plaintext = randomBytes(3 * 65_536 + 123);
    const { logger, lines } = capturingLogger();
    const bySodium = join(kit.dir, 'sodium.tseal');
    const byFallback = join(kit.dir, 'fallback.tseal');
    await sealFile({
      input: Readable.from([plaintext]),
      output: bySodium,
      recipient: kit.recipient.publicKey,
      context: CONTEXT,
      logger,
    });
    expect(lines).toEqual([]); // libsodium: nothing to say
    await sealFile({
      input: Readable.from([plaintext]),
      output: byFallback,
      recipient: kit.recipient.publicKey,
      context: CONTEXT,
      logger,
      secretbox: noAddon(),
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        component: 'seal',
        secretbox: 'tweetnacl',
        reason: 'cannot load sodium-native here',
        msg: 'libsodium is not available; sealing with tweetnacl (same format, slower)',
      }),
    ]);
    const openedByFallback = await openSealedFile({
      input: bySodium,
      output: join(kit.dir, 'sodium.out'),
      boxSecretKey: kit.recipient.secretKey,
      logger,
      secretbox: noAddon(),
    });
    expect(lines.at(-1)).toMatchObject({ level: 40, secretbox: 'tweetnacl' });
    expect(lines.at(-1)?.msg).toMatch(/opening with tweetnacl/);
    const openedBySodium = await openSealedFile({
      input: byFallback,
      output: join(kit.dir, 'fallback.out'),
      boxSecretKey: kit.recipient.secretKey,
    });
    for (const opened of [openedByFallback, openedBySodium]) {
      expect(opened.plaintextSha256).toBe(sha256(plaintext));
    }
    expect(sha256(await readFile(join(kit.dir, 'sodium.out')))).toBe(sha256(plaintext));
    expect(sha256(await readFile(join(kit.dir, 'fallback.out')))).toBe(sha256(plaintext));
    expect(referenceOpen(await readFile(byFallback), kit.recipient.secretKey).context).toEqual(
      CONTEXT,
    );
  });
});
