import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Reading clips back in the export tests, with ffprobe and ffmpeg as an outside viewer
 * would: what is presented (edit list applied), what packets the file holds, what the
 * pictures are.
 */

const run = promisify(execFile);
const big = { maxBuffer: 64 * 1024 * 1024 };

/** Presentation times of the frames a player shows (the edit list hides the others). */
export function presentedFrames(path: string): Promise<number[]> {
  return videoTimes(path, 'frame');
}

/** Presentation times of every video packet in the file, hidden ones included. */
export function videoPackets(path: string): Promise<number[]> {
  return videoTimes(path, 'packet');
}

async function videoTimes(path: string, of: 'frame' | 'packet'): Promise<number[]> {
  const { stdout } = await run(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      `-show_${of}s`,
      '-show_entries',
      `${of}=pts_time`,
    ].concat(['-of', 'csv=p=0', path]),
    big,
  );
  return numbers(stdout);
}

export interface StreamInfo {
  codec_type: string;
  codec_name: string;
  sample_rate?: string;
  width?: number;
}

export async function streamsOf(path: string): Promise<StreamInfo[]> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-of',
    'json',
    '-show_entries',
    'stream=codec_type,codec_name,sample_rate,width',
    path,
  ]);
  return (JSON.parse(stdout) as { streams: StreamInfo[] }).streams;
}

/** MD5 of each presented picture, in order (decoded by ffmpeg, edit list applied). */
export async function frameHashes(input: string): Promise<string[]> {
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'error', '-i', input, '-map', '0:v:0', '-f', 'framemd5', '-'],
    big,
  );
  return stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(',').at(-1)?.trim() ?? '');
}

/** Whatever ffmpeg complains about while decoding every frame of the file. */
export async function decodeErrors(path: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], big);
  return stderr.trim();
}

/**
 * Start times (s) of the 40 ms beeps of `sine=…:beep_factor=4` in a file's audio: windows
 * of 10 ms whose zero-crossing rate jumps from the 440 Hz tone to the 1760 Hz beep.
 */
export async function beepTimes(path: string, rate = 8000): Promise<number[]> {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      path,
      '-map',
      '0:a:0',
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      String(rate),
    ].concat(['-']),
    { ...big, encoding: 'buffer' },
  );
  const samples = new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
  const window = rate / 100;
  const high: boolean[] = [];
  for (let start = 0; start + window <= samples.length; start += window) {
    let crossings = 0;
    for (let i = start + 1; i < start + window; i++) {
      if ((samples[i - 1] ?? 0) < 0 !== (samples[i] ?? 0) < 0) crossings++;
    }
    high.push(crossings > (window * 1100 * 2) / rate);
  }
  // A beep fills three windows at least; a click where the audio is cut does not.
  const beeps: number[] = [];
  high.forEach((isHigh, i) => {
    if (isHigh && high[i + 1] && high[i + 2] && !high[i - 1]) beeps.push((i * window) / rate);
  });
  return beeps;
}

/** Names of the top-level MP4 boxes, in file order. */
export async function topLevelBoxes(path: string): Promise<string[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const names: string[] = [];
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= size) {
      await file.read(header, 0, 16, offset);
      let length = header.readUInt32BE(0);
      names.push(header.toString('latin1', 4, 8));
      if (length === 1) length = Number(header.readBigUInt64BE(8));
      if (length < 8) break;
      offset += length;
    }
    return names;
  } finally {
    await file.close();
  }
}

function numbers(text: string): number[] {
  return text
    .split('\n')
    .map((line) => line.split(',')[0]?.trim() ?? '')
    .filter((value) => value !== '' && value !== 'N/A')
    .map(Number);
}
