import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { DsseEnvelope } from '../../agent/crypto/dsse.js';
import { readSecretFile } from '../../agent/crypto/key-files.js';
import { ThresholdError, UserError } from '../../agent/errors.js';
import {
  CustodyError,
  type CustodyRecord,
  type OpenedCustody,
  openCustody,
} from '../../agent/seal/custody.js';
import { type ProofStatement, verifyCustodyProof } from '../../agent/seal/custody-proof.js';
import { type OpenResult, openSealedFile } from '../../agent/seal/tseal.js';

/**
 * `threshold-agency open`: the agency's side of the seal. Opens a sealed clip with the
 * agency's `box.key`; with `--custody`, opens and verifies the custody record and checks
 * that it describes exactly this clip; with `--proof`, checks an owner's authorship proof
 * against the record. The clip appears at `--out` only when every check holds.
 */

export interface OpenSealedClipOptions {
  /** An agency key directory holding `box.key`. */
  readonly keyDir: string;
  readonly input: string;
  readonly output: string;
  readonly custody?: string;
  /** An authorship proof (`threshold custody prove --json`); needs `custody`. */
  readonly proof?: string;
  /** The challenge the agency gave the owner for the proof. */
  readonly challenge?: string;
  /** What the clip must be (the receiver knows it from the upload and its ledger). */
  readonly expect?: ExpectedClip;
  readonly signal?: AbortSignal;
}

export interface ExpectedClip {
  readonly requestId: string;
  readonly clipIndex: number;
  /** SHA-256 of the payload the agency signed; the custody record must name it. */
  readonly requestPayloadSha256?: string;
}

export interface OpenedClip extends OpenResult {
  readonly output: string;
  readonly record?: CustodyRecord;
  /** The signed envelope the record came in (evidence that can be checked again). */
  readonly custodyEnvelope?: DsseEnvelope;
  readonly proof?: ProofStatement;
}

export async function openSealedClip(options: OpenSealedClipOptions): Promise<OpenedClip> {
  if (options.proof !== undefined && options.custody === undefined) {
    throw new UserError('bad_flag', '--proof needs --custody: a proof is checked against a record');
  }
  const boxSecretKey = await readSecretFile(join(options.keyDir, 'box.key'), 32);
  try {
    const custody = options.custody ? await openCustody(options.custody, boxSecretKey) : undefined;
    const proof =
      custody && options.proof !== undefined
        ? verifyCustodyProof(await readJson(options.proof), {
            custodyKey: custody.record.custodyKey,
            requestId: custody.record.requestId,
            ...(options.challenge === undefined ? {} : { challenge: options.challenge }),
          })
        : undefined;
    const result = await openSealedFile({
      input: options.input,
      output: options.output,
      boxSecretKey,
      beforeCommit: (opened) => {
        checkClip(opened, custody);
        if (options.expect) checkExpected(opened, custody, options.expect);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return {
      ...result,
      output: options.output,
      ...(custody ? { record: custody.record, custodyEnvelope: custody.envelope } : {}),
      ...(proof ? { proof } : {}),
    };
  } finally {
    boxSecretKey.fill(0);
  }
}

/** The record must describe this very clip: request, index, and both hashes and sizes. */
function checkClip(opened: OpenResult, custody: OpenedCustody | undefined): void {
  if (opened.context.kind === 'custody') {
    throw new UserError('not_a_clip', '--in is a custody record; pass it with --custody');
  }
  if (!custody) return;
  const { record } = custody;
  const checks: [boolean, string][] = [
    [opened.context.requestId === record.requestId, 'request id'],
    [opened.context.clipIndex === record.clip.index, 'clip index'],
    [opened.sha256 === record.sealed.sha256, 'sealed SHA-256'],
    [opened.bytes === record.sealed.bytes, 'sealed size'],
    [opened.plaintextSha256 === record.plaintext.sha256, 'clip SHA-256'],
    [opened.plaintextBytes === record.plaintext.bytes, 'clip size'],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  if (failed.length > 0) {
    throw new CustodyError(
      'custody_mismatch',
      `the custody record does not match the clip: ${failed.join(', ')}`,
    );
  }
}

/** The authenticated clip is the one expected, and its record names the signed request. */
function checkExpected(
  opened: OpenResult,
  custody: OpenedCustody | undefined,
  expect: ExpectedClip,
): void {
  if (
    opened.context.requestId !== expect.requestId ||
    opened.context.clipIndex !== expect.clipIndex
  ) {
    throw new CustodyError('custody_mismatch', 'the sealed clip is not the one it was sent as');
  }
  if (
    expect.requestPayloadSha256 !== undefined &&
    custody?.record.requestPayloadSha256 !== expect.requestPayloadSha256
  ) {
    throw new CustodyError('custody_mismatch', 'the custody record names another request payload');
  }
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserError('bad_file', `${path} is not JSON`);
    throw err;
  }
}

const flagsSchema = z.object({
  key: z.string().min(1),
  in: z.string().min(1),
  out: z.string().min(1),
  custody: z.string().min(1).optional(),
  proof: z.string().min(1).optional(),
  challenge: z.string().min(1).max(256).optional(),
  json: z.boolean().optional(),
});

/** Where `open` prints its result; the agency CLI's context is one. */
export interface OpenOutput {
  out(text: string): void;
}

/** Registers `open` on the `threshold-agency` program. */
export function registerOpen(
  program: Command,
  io: OpenOutput = { out: (text) => process.stdout.write(`${text}\n`) },
): void {
  program
    .command('open')
    .description('open a sealed clip, verify its custody record, and write the clip')
    .requiredOption('--key <dir>', 'the agency key directory (holds box.key)')
    .requiredOption('--in <file>', 'the sealed clip')
    .requiredOption('--out <file>', 'where to write the clip (only when every check holds)')
    .option('--custody <file>', 'the sealed custody record beside the clip')
    .option('--proof <file>', "an owner's authorship proof (threshold custody prove --json)")
    .option('--challenge <text>', 'the challenge the proof must answer')
    .option('--json', 'print the result as JSON')
    .action(async (raw: unknown) => {
      const parsed = flagsSchema.safeParse(raw);
      if (!parsed.success) throw new UserError('bad_flag', 'open: invalid flags');
      const flags = parsed.data;
      const opened = await withFileErrors(() =>
        openSealedClip({
          keyDir: flags.key,
          input: flags.in,
          output: flags.out,
          ...(flags.custody ? { custody: flags.custody } : {}),
          ...(flags.proof ? { proof: flags.proof } : {}),
          ...(flags.challenge ? { challenge: flags.challenge } : {}),
        }),
      );
      io.out(flags.json ? JSON.stringify(toJson(opened), null, 2) : describe(opened));
    });
}

/** A missing or unreadable file is the user's to fix: one line, no stack. */
async function withFileErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!(err instanceof ThresholdError) && typeof code === 'string' && code.startsWith('E')) {
      throw new UserError('file_error', (err as Error).message.split('\n')[0] ?? code);
    }
    throw err;
  }
}

function toJson(opened: OpenedClip): unknown {
  return {
    output: opened.output,
    context: opened.context,
    sealed: { sha256: opened.sha256, bytes: opened.bytes },
    plaintext: { sha256: opened.plaintextSha256, bytes: opened.plaintextBytes },
    custody: opened.record ?? null,
    proof: opened.proof ?? null,
  };
}

function describe(opened: OpenedClip): string {
  const lines = [
    `clip:           ${opened.output} (${opened.plaintextBytes} bytes, sha256 ${opened.plaintextSha256})`,
    `request:        ${opened.context.requestId}, clip ${opened.context.clipIndex}`,
    `sealed file:    ${opened.bytes} bytes, sha256 ${opened.sha256}`,
  ];
  const record = opened.record;
  if (!record)
    return [...lines, 'custody:        (none given: clip not checked against a record)'].join('\n');
  lines.push(
    `custody:        signed by ${record.custodyKey}, matches the clip`,
    `  request payload sha256  ${record.requestPayloadSha256}`,
    `  range                   ${record.clip.start} to ${record.clip.end}`,
    `  cut                     ${record.cutMode}, audio ${record.audio ? 'on' : 'off'}`,
    `  decided at              ${record.decidedAt} (clock ${record.clockSync})`,
    `  source segments         ${record.sourceSegments.length}`,
    `  agent / ffmpeg          ${record.agentVersion} / ${record.ffmpegVersion}`,
  );
  if (opened.proof) {
    lines.push(`proof:          authored by device key ${opened.proof.deviceKey}`);
  }
  return lines.join('\n');
}
