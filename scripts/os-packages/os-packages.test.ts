import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOsPackages, type OsPackageReport } from './check.js';
import { DEBIAN_TOOLS } from './debian.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'scripts/install-os-packages.sh');

/**
 * The guard `npm test` runs: every OS part the project uses comes from a package the
 * install script installs (or one of their dependencies, or Debian's base). It asks this
 * machine's dpkg and apt, so it runs on Debian 12, as CI does; it is never skipped.
 */
describe('scripts/install-os-packages.sh', () => {
  let report: OsPackageReport;
  let dir: string;
  beforeAll(async () => {
    report = await checkOsPackages({ root: ROOT });
    dir = await mkdtemp(join(tmpdir(), 'threshold-os-packages-'));
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('installs every OS part the project loads at run time and in its tests', () => {
    expect(report.problems, report.problems.join('\n')).toEqual([]);
  });

  it('is judged on parts read from the code, each owned by an installed package', () => {
    const names = report.parts.map(({ part }) => `${part.kind} ${part.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'command ffmpeg',
        'command ffprobe',
        'command /usr/sbin/mosquitto',
        'command mosquitto_passwd',
        'command openssl',
        'command /usr/bin/python3',
        'python-module gi',
        'python-module nacl',
        'typelib GdkPixbuf',
        'typelib GstRtspServer',
        'gst-element clockoverlay',
        'gst-element x264enc',
        'gst-element rtppcmupay',
      ]),
    );
    for (const resolved of report.parts) {
      expect(resolved.owners.length, `${resolved.part.kind} ${resolved.part.name}`).toBeGreaterThan(
        0,
      );
    }
    expect(report.scriptPackages).toContain('ffmpeg');
  });

  it('fails on a script without the packages the camera and the broker tests need, naming them', async () => {
    // The script as it was before gir1.2-gdkpixbuf-2.0, gstreamer1.0-x and openssl were added.
    const dropped = ['gir1.2-gdkpixbuf-2.0', 'gstreamer1.0-x', 'openssl'];
    const text = await readFile(SCRIPT, 'utf8');
    const older = text
      .split(/(\s+)/)
      .filter((word) => !dropped.includes(word))
      .join('');
    const olderScript = join(dir, 'install-os-packages.sh');
    await writeFile(olderScript, older);

    const failed = await checkOsPackages({ root: ROOT, script: olderScript });
    expect(failed.scriptPackages).not.toContain('gstreamer1.0-x');
    expect(failed.problems).toHaveLength(3);
    expect(failed.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^GObject typelib GdkPixbuf-2\.0 \(scripts\/camera\/emulated-camera\.py\): comes from gir1\.2-gdkpixbuf-2\.0, .*; add gir1\.2-gdkpixbuf-2\.0 to it$/,
        ),
        expect.stringMatching(
          /^GStreamer element clockoverlay \(scripts\/camera\/emulated-camera\.py\): comes from gstreamer1\.0-x, .*; add gstreamer1\.0-x to it$/,
        ),
        expect.stringMatching(/^command openssl \([^)]*\): comes from openssl, /),
      ]),
    );
  }, 120_000);

  it('fails on a part that no installed package provides, as on a machine without its package', async () => {
    // A gst-inspect-1.0 that knows no element: what a machine without the plugins answers.
    const inspect = join(dir, 'gst-inspect-1.0');
    await writeFile(inspect, '#!/bin/sh\necho "No such element or plugin \'$1\'"\nexit 1\n', {
      mode: 0o755,
    });
    const bare = await checkOsPackages({
      root: ROOT,
      tools: { ...DEBIAN_TOOLS, gstInspect: inspect },
    });
    expect(bare.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^GStreamer element clockoverlay \(scripts\/camera\/emulated-camera\.py\): no installed Debian package provides it \(.*\); add the package that does to scripts\/install-os-packages\.sh$/,
        ),
      ]),
    );
    const elements = bare.parts.filter(({ part }) => part.kind === 'gst-element');
    expect(elements.length).toBeGreaterThan(10);
    expect(bare.problems).toHaveLength(elements.length);
  });

  it('refuses to pass where Debian’s package tools cannot be run', async () => {
    const elsewhere = await checkOsPackages({
      root: ROOT,
      tools: { ...DEBIAN_TOOLS, dpkgQuery: join(dir, 'dpkg-query') },
    });
    expect(elsewhere.problems).toEqual([
      expect.stringMatching(/^cannot run .*dpkg-query: this guard asks Debian's package tools/),
    ]);
  });
});
