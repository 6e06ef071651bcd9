import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceKeys } from '../../agent/crypto/device-keys.js';
import { writePublicFile, writeSecretFile } from '../../agent/crypto/key-files.js';
import { ThresholdError } from '../../agent/errors.js';
import { type CustodyFacts, writeCustody } from '../../agent/seal/custody.js';
import { makeCustodyProof } from '../../agent/seal/custody-proof.js';
import type { SealResult } from '../../agent/seal/tseal.js';
import { type SealKit, sealKit } from '../../agent/test-support/seal-kit.js';
import { registerOpen } from './open.js';

const REQUEST = 'AAAAAAAAAAAAAAAAAAAAAA';
let kit: SealKit;
let keyDir: string;
let device: DeviceKeys;
let clip: { sealedPath: string; plaintext: Buffer; result: SealResult };
let custody: string;
let printed: string[];

function facts(result: SealResult, overrides: Partial<CustodyFacts> = {}): CustodyFacts {
  return {
    requestId: REQUEST,
    requestPayloadSha256: 'a'.repeat(64),
    clip: { index: 0, start: '2026-03-01T10:00:00.000Z', end: '2026-03-01T10:00:30.000Z' },
    sourceSegments: ['b'.repeat(64)],
    plaintext: { sha256: result.plaintextSha256, bytes: result.plaintextBytes },
    sealed: { sha256: result.sha256, bytes: result.bytes },
    cutMode: 'exact',
    audio: true,
    decidedAt: '2026-03-01T11:00:00.000Z',
    clockSync: 'synced',
    agentVersion: '0.1.0',
    ffmpegVersion: '5.1.6',
    ...overrides,
  };
}

beforeEach(async () => {
  kit = await sealKit();
  keyDir = join(kit.dir, 'agency');
  await writeSecretFile(join(keyDir, 'box.key'), kit.recipient.secretKey);
  await writePublicFile(join(keyDir, 'box.pub'), kit.recipient.publicKey);
  device = new DeviceKeys(randomBytes(32));
  clip = await kit.sealRandom('clip', 150_000);
  custody = await writeCustody({
    clipPath: clip.sealedPath,
    recipient: kit.recipient.publicKey,
    signer: device,
    facts: facts(clip.result),
  });
  printed = [];
});
afterEach(async () => {
  await kit.cleanup();
});

function run(...args: string[]) {
  const program = new Command('threshold-agency').exitOverride();
  registerOpen(program, { out: (text) => printed.push(text) });
  return program.parseAsync(['open', ...args], { from: 'user' });
}

/** Runs `open` expecting a refusal: one line, a stable code, and no file at --out. */
async function refusedWith(args: string[]): Promise<string> {
  const out = join(kit.dir, 'refused.mp4');
  const before = await kit.files();
  const error = await run(...args, '--out', out).catch((err: unknown) => err);
  expect(await kit.files()).toEqual(before);
  expect(printed).toEqual([]);
  if (!(error instanceof ThresholdError))
    throw new Error(`expected a refusal, got ${String(error)}`);
  expect(error.message).not.toContain('\n');
  return error.code;
}

describe('threshold-agency open', () => {
  it('opens the clip, verifies the record, and prints it as JSON', async () => {
    const out = join(kit.dir, 'clip.mp4');
    await run(
      '--key',
      keyDir,
      '--in',
      clip.sealedPath,
      '--custody',
      custody,
      '--out',
      out,
      '--json',
    );
    expect(Buffer.compare(await readFile(out), clip.plaintext)).toBe(0);
    const printedJson = JSON.parse(printed.join('\n'));
    expect(printedJson).toMatchObject({
      output: out,
      context: { requestId: REQUEST, clipIndex: 0 },
      sealed: { sha256: clip.result.sha256, bytes: clip.result.bytes },
      plaintext: { sha256: clip.result.plaintextSha256, bytes: 150_000 },
      custody: { requestId: REQUEST, cutMode: 'exact', audio: true },
      proof: null,
    });
  });

  it('checks an authorship proof and prints the record for people', async () => {
    const proofPath = join(kit.dir, 'proof.json');
    await writeFile(proofPath, JSON.stringify(makeCustodyProof(device, REQUEST, 'n1')));
    const out = join(kit.dir, 'clip.mp4');
    await run(
      '--key',
      keyDir,
      '--in',
      clip.sealedPath,
      '--custody',
      custody,
      '--proof',
      proofPath,
      '--challenge',
      'n1',
      '--out',
      out,
    );
    const text = printed.join('\n');
    expect(text).toContain('matches the clip');
    expect(text).toContain('cut                     exact, audio on');
    const deviceKey = Buffer.from(device.proofKeyPair().publicKey).toString('base64');
    expect(text).toContain(`authored by device key ${deviceKey}`);
    expect(Buffer.compare(await readFile(out), clip.plaintext)).toBe(0);
  });

  it('opens without a record, saying so', async () => {
    await run('--key', keyDir, '--in', clip.sealedPath, '--out', join(kit.dir, 'bare.mp4'));
    expect(printed.join('\n')).toContain('custody:        (none given');
  });

  it('refuses a record of another clip, or one whose hashes or sizes differ', async () => {
    const other = await kit.sealRandom('other', 1000);
    const otherCustody = await writeCustody({
      clipPath: other.sealedPath,
      recipient: kit.recipient.publicKey,
      signer: device,
      facts: facts(other.result),
    });
    const base = ['--key', keyDir, '--in', clip.sealedPath];
    expect(await refusedWith([...base, '--custody', otherCustody])).toBe('custody_mismatch');
    for (const override of [
      { plaintext: { sha256: clip.result.plaintextSha256, bytes: 150_001 } },
      { sealed: { sha256: other.result.sha256, bytes: clip.result.bytes } },
      { clip: { index: 1, start: '2026-03-01T10:00:00.000Z', end: '2026-03-01T10:00:30.000Z' } },
    ]) {
      const wrong = await writeCustody({
        clipPath: join(kit.dir, 'wrong'),
        recipient: kit.recipient.publicKey,
        signer: device,
        facts: facts(clip.result, override),
      });
      expect(await refusedWith([...base, '--custody', wrong])).toBe('custody_mismatch');
    }
  });

  it('refuses a tampered clip, the wrong key, and misplaced files', async () => {
    const tampered = join(kit.dir, 'tampered.tseal');
    const bytes = await readFile(clip.sealedPath);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    await writeFile(tampered, bytes);
    expect(await refusedWith(['--key', keyDir, '--in', tampered, '--custody', custody])).toBe(
      'seal_chunk_invalid',
    );
    const otherDir = join(kit.dir, 'other-agency');
    await writeSecretFile(join(otherDir, 'box.key'), nacl.box.keyPair().secretKey);
    expect(await refusedWith(['--key', otherDir, '--in', clip.sealedPath])).toBe('seal_wrong_key');
    expect(await refusedWith(['--key', keyDir, '--in', custody])).toBe('not_a_clip');
    expect(await refusedWith(['--key', keyDir, '--in', join(kit.dir, 'missing')])).toBe(
      'file_error',
    );
    expect(await refusedWith(['--key', join(kit.dir, 'nokeys'), '--in', clip.sealedPath])).toBe(
      'key_missing',
    );
  });

  it('refuses a proof from another device, for another challenge, or without a record', async () => {
    const proofPath = join(kit.dir, 'proof.json');
    const base = ['--key', keyDir, '--in', clip.sealedPath, '--proof', proofPath];
    await writeFile(
      proofPath,
      JSON.stringify(makeCustodyProof(new DeviceKeys(randomBytes(32)), REQUEST)),
    );
    expect(await refusedWith([...base, '--custody', custody])).toBe('proof_mismatch');
    await writeFile(proofPath, JSON.stringify(makeCustodyProof(device, REQUEST, 'n1')));
    expect(await refusedWith([...base, '--custody', custody, '--challenge', 'n2'])).toBe(
      'proof_mismatch',
    );
    expect(await refusedWith(base)).toBe('bad_flag');
    await writeFile(proofPath, 'not json');
    expect(await refusedWith([...base, '--custody', custody])).toBe('bad_file');
  });
});
