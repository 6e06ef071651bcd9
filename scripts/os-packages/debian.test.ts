import { describe, expect, it } from 'vitest';
import { dependencyClosure, parseAptDepends, withUsrAlias } from './debian.js';

/** The shape of `apt-cache depends --recurse` output: alternatives, virtual packages. */
const DEPENDS = `ffmpeg
  Depends: libavcodec59
    libavcodec-extra59
 |Depends: libjack-jackd2-0
  Depends: <libjack-0.125>
    libjack-jackd2-0
    libjack0
  PreDepends: <python3:any>
    python3
libavcodec59
  Depends: libc6
libjack-jackd2-0
  Depends: libc6
python3
  Depends: python3-minimal
libavcodec-extra59
  Depends: libavcodec-extra-data
libjack0
  Depends: jackd1
`;

describe('the dependency closure', () => {
  it('follows Depends and PreDepends, the first of alternatives, and providers of virtual ones', () => {
    const closure = dependencyClosure(parseAptDepends(DEPENDS), ['ffmpeg']);
    expect([...closure].sort()).toEqual(
      ['ffmpeg', 'libavcodec59', 'libc6', 'libjack-jackd2-0', 'python3', 'python3-minimal'].sort(),
    );
  });

  it('does not take a package that only provides a real one (apt installs the real one)', () => {
    const closure = dependencyClosure(parseAptDepends(DEPENDS), ['ffmpeg']);
    expect(closure.has('libavcodec-extra59')).toBe(false);
    expect(closure.has('libjack0')).toBe(false);
  });
});

describe('withUsrAlias', () => {
  it('gives both names of a file on a merged-/usr system', () => {
    expect(withUsrAlias('/lib/x86_64-linux-gnu/gstreamer-1.0/libgstpango.so')).toEqual([
      '/lib/x86_64-linux-gnu/gstreamer-1.0/libgstpango.so',
      '/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstpango.so',
    ]);
    expect(withUsrAlias('/usr/bin/mkfifo')).toEqual(['/usr/bin/mkfifo', '/bin/mkfifo']);
    expect(withUsrAlias('/usr/share/x')).toEqual(['/usr/share/x']);
  });
});
