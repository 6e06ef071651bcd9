import { get, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { delay } from '../lifecycle.js';
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

/**
 * Attaches a viewer and passes its stream on. A media server that died a moment ago may
 * still look live to the agent (its exit not yet seen): a refused connection is tried
 * again, twice, by which time live view waits for the next server.
 */
export async function proxyStream(
  ctx: RequestContext,
  attach: (signal: AbortSignal) => Promise<LiveViewer>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const viewer = await attach(ctx.signal);
    const upstream = await connect(viewer.url, ctx.signal).catch(() => undefined);
    if (upstream?.statusCode === 200) {
      await pipe(ctx, viewer, upstream);
      return;
    }
    upstream?.resume();
    viewer.release();
    if (attempt >= 2 || ctx.signal.aborted) {
      throw new HttpError(
        503,
        'media_server_down',
        'The live view service does not answer. Retry.',
      );
    }
    await delay(300 * (attempt + 1), ctx.signal).catch(() => undefined);
  }
}

function connect(url: string, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, signal });
    request.once('response', resolve);
    request.once('error', reject);
  });
}

async function pipe(ctx: RequestContext, viewer: LiveViewer, upstream: IncomingMessage) {
  const { res } = ctx;
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
    upstream.destroy();
    viewer.release();
    if (!res.writableEnded) res.destroy();
  }
}
