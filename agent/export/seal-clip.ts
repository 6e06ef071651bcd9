import type { Logger } from '../log.js';
import { type CustodySigner, writeCustody } from '../seal/custody.js';
import { type SealResult, sealFile } from '../seal/seal-file.js';
import { runMediaTool } from './media-tool.js';
import type { ExportResult } from './types.js';

export interface SealClipInput {
  /** The plaintext MP4 the export wrote (and checked). */
  clip: string;
  /** What the cut used (an `ExportResult`, or its facts kept across a restart). */
  exported: Pick<ExportResult, 'mode' | 'audio'> & { segments: readonly { sha256: string }[] };
  /** The sealed file to write; the custody record goes beside it (`<output>.custody`). */
  output: string;
  /** The request's X25519 box public key. */
  recipient: Uint8Array;
  requestId: string;
  /** SHA-256 (hex) of the request's payload bytes, as the request store keeps it. */
  requestPayloadSha256: string;
  clipIndex: number;
  fromMs: number;
  toMs: number;
  decidedAtMs: number;
  clockSync: 'synced' | 'unsynced' | 'unknown';
  signer: CustodySigner;
  agentVersion: string;
  ffmpegVersion: string;
  signal?: AbortSignal;
  /** Told if the seal runs without libsodium (see agent/seal/secretbox-choice.ts). */
  logger?: Logger;
}

export interface SealedClip {
  sealed: SealResult;
  custody: string;
}

/**
 * Seals an exported clip to the request's recipient and writes its custody record
 * (DESIGN.md, "Seal"): what was cut from which segments, how, and the hashes of the
 * plaintext and the sealed bytes. Nothing in it names the device.
 */
export async function sealClip(input: SealClipInput): Promise<SealedClip> {
  const signal = input.signal ? { signal: input.signal } : {};
  const sealed = await sealFile({
    input: input.clip,
    output: input.output,
    recipient: input.recipient,
    context: { requestId: input.requestId, clipIndex: input.clipIndex, kind: 'clip' },
    ...signal,
    ...(input.logger ? { logger: input.logger } : {}),
  });
  const custody = await writeCustody({
    clipPath: input.output,
    recipient: input.recipient,
    signer: input.signer,
    facts: {
      requestId: input.requestId,
      requestPayloadSha256: input.requestPayloadSha256,
      clip: {
        index: input.clipIndex,
        start: new Date(input.fromMs).toISOString(),
        end: new Date(input.toMs).toISOString(),
      },
      sourceSegments: input.exported.segments.map((segment) => segment.sha256),
      plaintext: { sha256: sealed.plaintextSha256, bytes: sealed.plaintextBytes },
      sealed: { sha256: sealed.sha256, bytes: sealed.bytes },
      cutMode: input.exported.mode,
      audio: input.exported.audio === 'included',
      decidedAt: new Date(input.decidedAtMs).toISOString(),
      clockSync: input.clockSync,
      agentVersion: input.agentVersion,
      ffmpegVersion: input.ffmpegVersion,
    },
    ...signal,
  });
  return { sealed, custody };
}

/** `5.1.9-0+deb12u1` from `ffmpeg -version`, for the custody record. */
export async function ffmpegVersion(ffmpegPath: string, signal?: AbortSignal): Promise<string> {
  const text = await runMediaTool(
    ffmpegPath,
    ['-hide_banner', '-version'],
    signal ? { signal } : {},
  );
  const match = /^ffmpeg version (\S+)/m.exec(text);
  return (match?.[1] ?? 'unknown').slice(0, 128);
}

/** This agent's version, for the custody record. */
export { agentVersion } from '../version.js';
