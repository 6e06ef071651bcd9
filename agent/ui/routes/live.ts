import { type RequestContext, sessionOf } from '../context.js';
import { HttpError } from '../http.js';
import { route } from '../router.js';
import { emptyQuery } from '../schemas.js';

/** The event stream open pages listen to (see `LiveUpdates`). */
export const liveRoutes = [
  route({
    method: 'GET',
    path: '/events',
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      if (!ctx.app.live.open(ctx.res, sessionOf(ctx).id)) {
        throw new HttpError(503, 'too_many_streams', 'Too many pages are open; close one.');
      }
    },
  }),
];
