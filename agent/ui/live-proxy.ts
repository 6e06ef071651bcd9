import { get, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { LiveViewer } from '../live/live-view.js';
import type { RequestContext } from './context.js';
import { HttpError } from './http.js';

/**
 * The page's same-origin copy of the live stream (HTTP-FLV). The browser never reaches
 * the media server: the agent asks it for the signed URL on loopback and passes the body
 * on under its own headers (none of the media server's: its
 * `Access-Control-Allow-Origin: *` stays behind). The viewer is released when either
 * side goes.
 */

/** A stream is fetched by our own page's script: same-origin, or not from a browser at all. */
export function assertSameOriginFetch(ctx: RequestContext, originOk: boolean): void {
  const site = ctx.req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    throw new HttpError(403, 'bad_origin', 'Live view opens from this page only.');
  }
  if (ctx.req.headers.origin !== undefined && !originOk) {
    throw new HttpError(403, 'bad_origin', 'Live view opens from this page only.');
  }
}

export async function proxyStream(ctx: RequestContext, viewer: LiveViewer): Promise<void> {
  const { res } = ctx;
  let upstream: IncomingMessage;
  const request = get(viewer.url, { agent: false });
  const closed = () => request.destroy();
  res.once('close', closed);
  try {
    upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
  } catch {
    res.off('close', closed);
    viewer.release();
    throw new HttpError(503, 'media_server_down', 'The live view service does not answer. Retry.');
  }
  if (upstream.statusCode !== 200) {
    upstream.resume();
    res.off('close', closed);
    viewer.release();
    throw new HttpError(
      503,
      'media_server_down',
      'The live view service refused the stream. Retry.',
    );
  }
  res.writeHead(200, {
    'Content-Type': 'video/x-flv',
    // The owner's camera, live: never kept by a cache between the page and the browser.
    'Cache-Control': 'private, no-store',
  });
  try {
    await pipeline(upstream, res);
  } catch {
    // The viewer left, or the media server went: the browser sees the stream end.
  } finally {
    res.off('close', closed);
    request.destroy();
    viewer.release();
    if (!res.writableEnded) res.destroy();
  }
}
