import { describe, expect, it } from 'vitest';
import { InstallScriptError, installedPackages } from './install-script.js';

describe('installedPackages', () => {
  it('reads the apt-get install words across continuation lines, options and comments left out', () => {
    const script = [
      '#!/usr/bin/env bash',
      'apt-get update',
      'apt-get install -y --no-install-recommends \\',
      '  ffmpeg \\',
      '  python3-gi gir1.2-gdkpixbuf-2.0 \\',
      '  gstreamer1.0-x # the clock overlay',
      'apt-get -q install openssl && rm -rf /var/lib/apt/lists',
    ].join('\n');
    expect(installedPackages(script)).toEqual([
      'ffmpeg',
      'python3-gi',
      'gir1.2-gdkpixbuf-2.0',
      'gstreamer1.0-x',
      'openssl',
    ]);
  });

  it('refuses what it cannot read without a shell, and a script that installs nothing', () => {
    expect(() => installedPackages('apt-get install -y "$PACKAGES"')).toThrow(InstallScriptError);
    expect(() => installedPackages('apt-get install -y ffmpeg=7:5.1')).toThrow(/ffmpeg=7:5.1/);
    expect(() => installedPackages('apt-get update\n')).toThrow(/no apt-get install/);
  });
});
