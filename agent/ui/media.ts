import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { HttpError } from './http.js';

/**
 * Serves a file the agent made (a thumbnail, a preview) with byte ranges (RFC 9110
 * §14): a browser's `<video>` asks for ranges to start playing and to seek. One range
 * per request; a header that is not one satisfiable range of this file gets 416.
 */

/** `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` (RFC 9110 §14.1.2). */
const RANGE = /^bytes=(\d{0,15})-(\d{0,15})$/;

export type ByteRange = { start: number; end: number };

/** The range a `Range` header asks of a file of `size` bytes; undefined for the whole. */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = RANGE.exec(header.trim());
  const unsatisfiable = new HttpError(
    416,
    'range_not_satisfiable',
    'That range is not in the file.',
  );
  if (!match) throw unsatisfiable;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') throw unsatisfiable;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable;
  return { start, end };
}

export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  contentType: string,
): Promise<void> {
  const { size } = await stat(path);
  let range: ByteRange | undefined;
  try {
    range = parseRange(req.headers.range, size);
  } catch (err) {
    res.setHeader('Content-Range', `bytes */${size}`);
    throw err;
  }
  const headers = {
    'Content-Type': contentType,
    'Accept-Ranges': 'bytes',
    // Footage of the owner: never kept by a cache between the page and the browser.
    'Cache-Control': 'private, no-store',
  };
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'Content-Length': size });
    res.end();
    return;
  }
  if (range) {
    res.writeHead(206, {
      ...headers,
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': range.end - range.start + 1,
    });
  } else {
    res.writeHead(200, { ...headers, 'Content-Length': size });
  }
  const stream = createReadStream(path, range ?? {});
  try {
    await pipeline(stream, res);
  } catch (err) {
    // The browser stopped reading (a seek, a closed tab): normal for video.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
  }
}
