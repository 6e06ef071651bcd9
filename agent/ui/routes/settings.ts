import { z } from 'zod';
import { type RequestContext, renderPage, sessionOf } from '../context.js';
import { clearCookie } from '../cookies.js';
import { HttpError, redirect } from '../http.js';
import { route } from '../router.js';
import {
  blockForm,
  csrfForm,
  emptyQuery,
  policyForm,
  sessionParams,
  unblockForm,
} from '../schemas.js';
import { policyPage } from '../views/policy.js';
import { sessionsPage } from '../views/sessions.js';

/** The owner's policy (kept in the database, audited) and the paired browsers. */

const savedQuery = z.strictObject({ saved: z.literal('1').optional() });

export const settingsRoutes = [
  route({
    method: 'GET',
    path: '/policy',
    page: true,
    query: savedQuery,
    handle: async (ctx: RequestContext, { query }) => {
      const { policy } = ctx.app.deps;
      await renderPage(
        ctx,
        200,
        'policy',
        'Policy',
        policyPage(policy.current(), policy.overridden(), ctx.csrf, query.saved === '1'),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/policy',
    page: true,
    query: emptyQuery,
    body: policyForm,
    handle: async (ctx: RequestContext, { body }) => {
      await ctx.app.deps.policy.change(body);
      redirect(ctx.res, '/policy?saved=1');
    },
  }),
  route({
    method: 'POST',
    path: '/policy/block',
    page: true,
    query: emptyQuery,
    body: blockForm,
    handle: async (ctx: RequestContext, { body }) => {
      const { policy } = ctx.app.deps;
      const blocked = policy.current().blockedAgencies;
      if (!blocked.includes(body.agencyId)) {
        await policy.change({ blockedAgencies: [...blocked, body.agencyId] });
      }
      redirect(ctx.res, body.back ? `/requests/${body.back}` : '/policy?saved=1');
    },
  }),
  route({
    method: 'POST',
    path: '/policy/unblock',
    page: true,
    query: emptyQuery,
    body: unblockForm,
    handle: async (ctx: RequestContext, { body }) => {
      const { policy } = ctx.app.deps;
      const blocked = policy.current().blockedAgencies;
      await policy.change({ blockedAgencies: blocked.filter((a) => a !== body.agencyId) });
      redirect(ctx.res, '/policy?saved=1');
    },
  }),
  route({
    method: 'GET',
    path: '/sessions',
    page: true,
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      const sessions = await ctx.app.deps.sessions.list(ctx.now);
      await renderPage(
        ctx,
        200,
        'sessions',
        'Devices',
        sessionsPage(sessions, sessionOf(ctx).id, ctx.csrf, ctx.app.format),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/sessions/:id/revoke',
    page: true,
    params: sessionParams,
    query: emptyQuery,
    body: csrfForm,
    handle: async (ctx: RequestContext, { params }) => {
      const ended = await ctx.app.deps.sessions.revoke(params.id, 'revoked', ctx.now);
      if (!ended) throw new HttpError(404, 'session_not_found', 'There is no such paired browser.');
      ctx.app.live.closeSession(params.id);
      if (params.id === sessionOf(ctx).id) {
        clearCookie(ctx.res, ctx.app.cookies.session, ctx.app.cookies.secure);
        redirect(ctx.res, '/login');
        return;
      }
      redirect(ctx.res, '/sessions');
    },
  }),
];
