import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';

const base = {
  dataDir: '/var/lib/threshold',
  device: { location: { lat: 52.37, lon: 4.89 } },
  camera: { source: 'rtsp', url: 'rtsp://cam.local:554/stream' },
};

function parse(upload: unknown) {
  return parseConfig(JSON.stringify({ ...base, upload }), '/');
}

function problems(upload: unknown): string[] {
  try {
    parse(upload);
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
  throw new Error('the config was accepted');
}

describe('config: upload', () => {
  it('is optional; each key is taken as given', () => {
    expect(parseConfig(JSON.stringify(base), '/').upload).toBeUndefined();
    const upload = {
      maxBytesPerSecond: 250_000,
      ca: '/etc/threshold/agency-ca.pem',
      proxy: 'socks5://127.0.0.1:9050',
      idleTimeoutSeconds: 45,
    };
    expect(parse(upload).upload).toEqual(upload);
    expect(parse({ proxy: 'socks5h://[::1]:9050' }).upload?.proxy).toBe('socks5h://[::1]:9050');
  });

  it('names the key of each problem and never echoes a value', () => {
    const secret = 'socks5://owner:hunter2@10.0.0.1:9050';
    const found = problems({
      proxy: secret,
      maxBytesPerSecond: 10,
      idleTimeoutSeconds: 1,
      ca: '',
      clientId: 'x',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'upload.proxy: must be socks5://HOST:PORT or socks5h://HOST:PORT',
        expect.stringMatching(/^upload\.maxBytesPerSecond: /),
        expect.stringMatching(/^upload\.idleTimeoutSeconds: /),
        expect.stringMatching(/^upload\.ca: /),
        'upload.clientId: unknown key',
      ]),
    );
    expect(found.join('\n')).not.toContain('hunter2');
    for (const proxy of [
      'http://127.0.0.1:9050',
      'socks4://127.0.0.1:9050',
      'socks5://127.0.0.1',
      'socks5://127.0.0.1:9050/path',
      'tor',
    ]) {
      expect(problems({ proxy })).toEqual([
        'upload.proxy: must be socks5://HOST:PORT or socks5h://HOST:PORT',
      ]);
    }
  });
});
