import { join } from 'node:path';
import { footageInput } from './concat-list.js';
import { aacBitrate, type MuxArgsInput, rawAudioExtractArgs } from './ffmpeg-args.js';
import { runMediaTool } from './media-tool.js';
import type { Piece } from './plan.js';
import type { SegmentProbe } from './probe.js';
import type { RawAudioFormat } from './types.js';

/** G.711 µ-law, 8 kHz, mono: what doorbell cameras send over RTSP. */
export const DEFAULT_RAW_AUDIO: RawAudioFormat = { codec: 'mulaw', sampleRate: 8000, channels: 1 };

export interface AudioSourceInput {
  ffmpegPath: string;
  rawFormat: RawAudioFormat;
  /** The first segment's probe: which audio there is and when it starts. */
  probe: SegmentProbe;
  pieces: readonly Piece[];
  workDir: string;
  /** Stream time (the first segment's timeline) of the clip's time 0. */
  originS: number;
  signal?: AbortSignal;
}

/**
 * The audio input of the final mux, aligned to the clip's time 0, or undefined when the
 * footage has none. Audio is always encoded (to AAC), so its cut is sample-exact in
 * either mode.
 *
 * A codec MPEG-TS knows (AAC, MP2) is read from the footage itself. G.711 is not one: the
 * recorder's copy stores it as an untyped private stream, which ffmpeg cannot decode in
 * place, so its bytes are first copied out to a raw file and read back as µ-law/A-law.
 * That file has no timestamps: it is placed by the private stream's first packet time.
 * Across a recorder restart the raw audio of the pieces simply follows on, as the video's
 * pieces do.
 */
export async function audioSource(
  input: AudioSourceInput,
): Promise<MuxArgsInput['audio'] | undefined> {
  const { probe } = input;
  const audio = probe.audio;
  if (!audio) return undefined;
  if (audio.kind === 'native') {
    const offsetS = -(input.originS - probe.startS);
    return {
      input: await footageInput(input.pieces, input.workDir, offsetS, 'audio.ffconcat'),
      bitrate: aacBitrate(audio.stream.sample_rate ?? 48_000, audio.stream.channels ?? 1),
    };
  }
  const footage = await footageInput(input.pieces, input.workDir, 0, 'audio.ffconcat');
  const path = join(input.workDir, 'audio.g711');
  await runMediaTool(
    input.ffmpegPath,
    rawAudioExtractArgs(footage, path),
    input.signal ? { signal: input.signal } : {},
  );
  const format = input.rawFormat;
  return {
    input: { kind: 'raw', ...format, path, offsetS: audio.startS - input.originS },
    bitrate: aacBitrate(format.sampleRate, format.channels),
  };
}
