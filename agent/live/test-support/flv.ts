import { request } from 'node:http';

/**
 * Reads the start of a live HTTP-FLV stream for a test: the status, the headers and up
 * to `maxBytes` of body, then hangs up. A stream that sends nothing is read until
 * `timeoutMs` and comes back empty.
 */

export interface StreamSample {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function sampleStream(
  url: string,
  options: {
    headers?: Record<string, string>;
    maxBytes?: number;
    timeoutMs?: number;
    /** Called once, when the first body bytes arrive. */
    onBytes?: () => void;
  } = {},
): Promise<StreamSample> {
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let headers: StreamSample['headers'] = {};
    const done = () => {
      clearTimeout(timer);
      req.destroy();
      resolve({ status, headers, body: Buffer.concat(chunks) });
    };
    const target = new URL(url);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        headers: { Host: target.host, ...options.headers },
        agent: false,
      },
      (res) => {
        status = res.statusCode ?? 0;
        headers = res.headers;
        res.on('data', (chunk: Buffer) => {
          if (size === 0) options.onBytes?.();
          chunks.push(chunk);
          size += chunk.length;
          if (size >= maxBytes) done();
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(done, options.timeoutMs ?? 8000);
    req.on('error', (err) => {
      clearTimeout(timer);
      if (status !== 0) resolve({ status, headers, body: Buffer.concat(chunks) });
      else reject(err);
    });
    req.end();
  });
}

export interface FlvSummary {
  /** The body starts with an FLV header. */
  header: boolean;
  videoTags: number;
  keyframes: number;
  audioTags: number;
}

/** Counts the whole tags in the start of an FLV body (Adobe FLV spec, §E.4). */
export function summarizeFlv(body: Buffer): FlvSummary {
  const summary: FlvSummary = { header: false, videoTags: 0, keyframes: 0, audioTags: 0 };
  if (body.length < 13 || body.toString('latin1', 0, 3) !== 'FLV') return summary;
  summary.header = true;
  let at = body.readUInt32BE(5) + 4; // the header, then PreviousTagSize0
  while (at + 11 <= body.length) {
    const type = body.readUInt8(at) & 0x1f;
    const size = body.readUIntBE(at + 1, 3);
    if (at + 11 + size + 4 > body.length) break;
    if (type === 9) {
      summary.videoTags++;
      if (body.readUInt8(at + 11) >> 4 === 1) summary.keyframes++;
    } else if (type === 8) {
      summary.audioTags++;
    }
    at += 11 + size + 4;
  }
  return summary;
}
