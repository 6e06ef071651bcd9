import { describe, expect, it } from 'vitest';
import {
  commandsNamed,
  pipelineElements,
  pythonImports,
  pythonParts,
  typelibsImported,
  withoutCommentLines,
} from './project-parts.js';

/** A spawn-like call, written so that this file itself names no command to the guard. */
const call = (fn: string, command: string) => `await ${fn}('${command}', ['-v', 'error']);`;
const quoted = (text: string) => `'${text}'`;

describe('commandsNamed', () => {
  it('finds commands run with an argument array, system paths, tool defaults and #! lines', () => {
    const text = [
      '#!/usr/bin/env bash',
      call('spawn', 'ffmpeg'),
      call('spawnSync', 'mkfifo'),
      call('runMediaTool', 'ffprobe'),
      "const path = '/usr/sbin/mosquitto';",
      `  toolPath: z.string().min(1).default(${quoted('openssl')}),`,
    ].join('\n');
    expect(commandsNamed(text, 'a.ts').sort()).toEqual(
      ['/usr/sbin/mosquitto', 'bash', 'ffmpeg', 'ffprobe', 'mkfifo', 'openssl'].sort(),
    );
  });

  it("leaves out Node's tools, project paths, and calls without an argument array", () => {
    const text = [
      call('execFileSync', 'npx'),
      call('spawn', '/nonexistent/ffmpeg'),
      "run('custody', 'prove');",
      "db.run('DELETE FROM pins', [1]);",
    ].join('\n');
    expect(commandsNamed(text, 'a.ts')).toEqual([]);
  });

  it('reads only code: whole-line comments are blanked first', () => {
    const text = [`// e.g. ${call('spawn', 'ffmpeg')}`, ` * ${call('run', 'openssl')}`].join('\n');
    expect(commandsNamed(withoutCommentLines(text, 'a.ts'), 'a.ts')).toEqual([]);
    expect(withoutCommentLines('#!/usr/bin/python3\n# x\nimport os', 'a.py')).toBe(
      '#!/usr/bin/python3\n\nimport os',
    );
  });
});

const CAMERA = `#!/usr/bin/python3
import argparse
import os, sys as system
try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import (
        GdkPixbuf,
        GLib,
        Gst,
    )
except ImportError:
    pass
from nacl.exceptions import CryptoError
from . import sibling

REQUIRED_ELEMENTS = ["videotestsrc", "x264enc"]
AUDIO_ELEMENTS = ['audiotestsrc']


def launch_line(index, audio):
    # A comment with "quotes": not part of the pipeline
    raw = f"video/x-raw,width={index}"
    video = (
        f"videotestsrc pattern=smpte ! {raw} "
        f'! clockoverlay text="cam{index}" time-format="%H:%M:%S UTC" '
        f"! x264enc key-int-max=25 ! rtph264pay name=pay0"
    )
    sound = " audiotestsrc is-live=true ! mulawenc" if audio else ""
    return f"( {video}{sound} )"


def make_factory():
    factory.set_launch(launch_line(1, True))
`;

describe('the Python parts', () => {
  it('reads top-level imports, relative ones left out', () => {
    expect(pythonImports(CAMERA)).toEqual(['argparse', 'os', 'sys', 'gi', 'nacl']);
  });

  it('reads typelibs with the versions gi.require_version asks for', () => {
    expect([...typelibsImported(CAMERA)]).toEqual([
      ['GdkPixbuf', '2.0'],
      ['GLib', null],
      ['Gst', '1.0'],
    ]);
  });

  it("reads the elements of the pipeline function's literals, caps and properties left out", () => {
    expect(pipelineElements(CAMERA, 'launch_line')).toEqual([
      'videotestsrc',
      'clockoverlay',
      'x264enc',
      'rtph264pay',
      'audiotestsrc',
      'mulawenc',
    ]);
    expect(pipelineElements(CAMERA, 'no_such_function')).toBeNull();
  });

  it('names each pipeline element the start-up lists lack', () => {
    const { parts, problems } = pythonParts(CAMERA, 'cam.py');
    expect(problems).toEqual([
      expect.stringMatching(/^cam\.py: launch_line uses the GStreamer element clockoverlay, /),
      expect.stringMatching(/element rtph264pay, /),
      expect.stringMatching(/element mulawenc, /),
    ]);
    expect(parts.find((part) => part.name === 'gi')).toMatchObject({
      kind: 'python-module',
      interpreter: '/usr/bin/python3',
    });
  });

  it('refuses a pipeline built outside the function it reads', () => {
    const text = CAMERA.replace('def launch_line(', 'def pipeline_text(');
    expect(pythonParts(text, 'cam.py').problems).toEqual([
      expect.stringMatching(
        /^cam\.py: builds a GStreamer pipeline, but not in a function named launch_line/,
      ),
    ]);
  });
});
