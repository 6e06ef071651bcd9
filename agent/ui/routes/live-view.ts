import { z } from 'zod';
import { LiveViewError } from '../../live/live-view.js';
import { type RequestContext, renderPage, sessionOf } from '../context.js';
import { HttpError, redirect } from '../http.js';
import { assertSameOriginFetch, proxyStream } from '../live-proxy.js';
import { route } from '../router.js';
import { csrfForm, emptyQuery } from '../schemas.js';
import { liveViewPage } from '../views/live-view.js';

/**
 * Live view (DESIGN.md, "Live view"): the page, its stream through our proxy, its state
 * in plain words for the page's script, and the owner's sound setting.
 */

const audioForm = csrfForm.extend({ audio: z.enum(['on', 'off']) });
const savedQuery = z.strictObject({ saved: z.literal('1').optional() });

function liveOf(ctx: RequestContext) {
  const live = ctx.app.deps.live;
  if (!live) throw new HttpError(503, 'off', new LiveViewError('off').message);
  return live;
}

export const liveViewRoutes = [
  route({
    method: 'GET',
    path: '/live',
    page: true,
    query: savedQuery,
    handle: async (ctx: RequestContext, { query }) => {
      const live = ctx.app.deps.live;
      const audio = live ? await live.audio() : false;
      await renderPage(
        ctx,
        200,
        'live',
        'Live view',
        liveViewPage({
          status: live?.status() ?? { state: 'off', viewers: 0 },
          audio,
          csrf: ctx.csrf,
          saved: query.saved === '1',
        }),
        ['/static/mpegts.js'],
      );
    },
  }),
  route({
    method: 'GET',
    path: '/live/status',
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      const status = ctx.app.deps.live?.status() ?? {
        state: 'off',
        viewers: 0,
        problem: { code: 'off', message: new LiveViewError('off').message, at: ctx.now },
      };
      const body = Buffer.from(JSON.stringify(status), 'utf8');
      ctx.res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
      });
      ctx.res.end(body);
    },
  }),
  route({
    method: 'GET',
    path: '/live/stream.flv',
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      assertSameOriginFetch(ctx, ctx.originAllowed());
      const live = liveOf(ctx);
      // A revoked session or a log-out ends its streams at once.
      ctx.app.live.hold(ctx.res, sessionOf(ctx).id);
      await proxyStream(ctx, async (signal) => {
        try {
          return await live.attach(signal);
        } catch (err) {
          if (!(err instanceof LiveViewError)) throw err;
          const status = err.code === 'too_many_viewers' ? 429 : 503;
          throw new HttpError(status, err.code, err.message);
        }
      });
    },
  }),
  route({
    method: 'POST',
    path: '/live/audio',
    page: true,
    query: emptyQuery,
    body: audioForm,
    handle: async (ctx: RequestContext, { body }) => {
      const live = liveOf(ctx);
      await live.setAudio(body.audio === 'on');
      live.restartPublisher();
      redirect(ctx.res, '/live?saved=1');
    },
  }),
];
