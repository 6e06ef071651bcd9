import type { Check, Finding } from '../check.js';
import { runTool } from './run-tool.js';

/**
 * ffmpeg and ffprobe are there and new enough. 4.4 is the oldest with the `scdet` filter
 * the recorder's motion detection uses; Debian 12 ships 5.1.
 */
export const MIN_FFMPEG: readonly [number, number] = [4, 4];

/** "ffmpeg version 5.1.9-0+deb12u1 …" → [5, 1]; "n6.1.1" → [6, 1]; a git build → null. */
export function parseToolVersion(text: string): [number, number] | null {
  const match = /^\S+ version n?(\d+)\.(\d+)/m.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

export function mediaToolsCheck(paths: { ffmpegPath: string; ffprobePath: string }): Check {
  return {
    id: 'media_tools',
    title: 'ffmpeg and ffprobe',
    run: async (signal) => {
      const found: string[] = [];
      let worst: Finding | undefined;
      for (const path of [paths.ffmpegPath, paths.ffprobePath]) {
        const result = await runTool(path, ['-hide_banner', '-version'], signal);
        const finding = judge(path, result.missing || result.code !== 0 ? null : result.stdout);
        if (finding.status === 'ok') found.push(finding.detail);
        else if (!worst || finding.status === 'fail') worst = finding;
      }
      return worst ?? { status: 'ok', detail: found.join(', ') };
    },
  };
}

/** Judges one tool's `-version` output (null: it did not run). */
export function judge(path: string, versionText: string | null): Finding {
  const install =
    'install ffmpeg (Debian: apt-get install ffmpeg), or set ffmpeg.ffmpegPath and ffmpeg.ffprobePath in the config';
  if (versionText === null) {
    return { status: 'fail', detail: `${path} cannot be run`, fix: install };
  }
  const version = parseToolVersion(versionText);
  const [minMajor, minMinor] = MIN_FFMPEG;
  if (!version) {
    return {
      status: 'warn',
      detail: `${path}: cannot tell its version (a development build?)`,
      fix: `make sure it is ${minMajor}.${minMinor} or newer`,
    };
  }
  const [major, minor] = version;
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    return {
      status: 'fail',
      detail: `${path} is version ${major}.${minor}, older than ${minMajor}.${minMinor}`,
      fix: install,
    };
  }
  return { status: 'ok', detail: `${path} ${major}.${minor}` };
}
