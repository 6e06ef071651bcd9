import { describe, expect, it } from 'vitest';
import { redactCredentials, redactUrl } from './log.js';

describe('redaction', () => {
  it('masks credentials in URLs inside any text, as ffmpeg prints them', () => {
    const line = 'rtsp://admin:hunter2@192.0.2.10:554/stream1: Connection refused; mqtts://u:p@b/x';
    const masked = redactCredentials(line);
    expect(masked).not.toContain('hunter2');
    expect(masked).not.toContain('u:p@');
    expect(masked).toBe('rtsp://***@192.0.2.10:554/stream1: Connection refused; mqtts://***@b/x');
    expect(redactCredentials('rtsp://cam.local/stream')).toBe('rtsp://cam.local/stream');
  });

  it('strips credentials and the query from a URL', () => {
    expect(redactUrl('rtsp://admin:hunter2@cam.local/s?token=x')).toBe(
      'rtsp://***:***@cam.local/s',
    );
    expect(redactUrl('not a url')).toBe('[unparseable url]');
  });
});
