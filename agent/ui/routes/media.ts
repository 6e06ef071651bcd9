import { asHttpError } from '../consent-errors.js';
import type { RequestContext } from '../context.js';
import { sendFile } from '../media.js';
import { route } from '../router.js';
import { clipParams, emptyQuery } from '../schemas.js';

/**
 * A clip's thumbnail and preview, made on the device by the consent service from the
 * buffer and served from its cache. They go to the owner's browser only: nothing here
 * reaches the agency. A browser that stops waiting (a cancelled poster, a seek) does not
 * abort the making: it is shared with every other ask for the same file, and cached.
 */
export const mediaRoutes = [
  route({
    method: 'GET',
    path: '/requests/:id/clips/:index/thumbnail.jpg',
    params: clipParams,
    query: emptyQuery,
    handle: async (ctx: RequestContext, { params }) => {
      const path = await ctx.app.deps.consent
        .thumbnail(params.id, params.index)
        .catch((err: unknown) => {
          throw asHttpError(err);
        });
      await sendFile(ctx.req, ctx.res, path, 'image/jpeg');
    },
  }),
  route({
    method: 'GET',
    path: '/requests/:id/clips/:index/preview.mp4',
    params: clipParams,
    query: emptyQuery,
    handle: async (ctx: RequestContext, { params }) => {
      const path = await ctx.app.deps.consent
        .preview(params.id, params.index)
        .catch((err: unknown) => {
          throw asHttpError(err);
        });
      await sendFile(ctx.req, ctx.res, path, 'video/mp4');
    },
  }),
];
