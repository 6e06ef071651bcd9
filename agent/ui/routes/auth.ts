import { randomBytes } from 'node:crypto';
import { type RequestContext, renderPage, sessionOf } from '../context.js';
import { browserLabel, clearCookie, setCookie } from '../cookies.js';
import { parseCookies, redirect } from '../http.js';
import { route } from '../router.js';
import { csrfForm, emptyQuery, loginForm } from '../schemas.js';
import { csrfToken } from '../security.js';
import { SESSION_TTL_MS } from '../sessions.js';
import { loginPage } from '../views/login.js';

/** Pairing a browser with a one-time code, and logging out. */

const LOGIN_NONCE_MAX_AGE_S = 3600;

async function showLogin(ctx: RequestContext, status: number, problem?: string): Promise<void> {
  const { app } = ctx;
  let nonce = parseCookies(ctx.req.headers.cookie).get(app.cookies.login);
  if (!nonce || !/^[A-Za-z0-9_-]{22}$/.test(nonce)) {
    nonce = randomBytes(16).toString('base64url');
  }
  // Refreshed on every showing, so a form left open keeps working for an hour.
  setCookie(ctx.res, app.cookies.login, nonce, {
    secure: app.cookies.secure,
    maxAgeS: LOGIN_NONCE_MAX_AGE_S,
  });
  await renderPage(ctx, status, 'login', 'Pair', loginPage(csrfToken(nonce, 'login'), problem));
}

export const authRoutes = [
  route<RequestContext, Record<string, never>, Record<string, never>>({
    method: 'GET',
    path: '/login',
    public: true,
    page: true,
    query: emptyQuery,
    handle: async (ctx) => {
      if (ctx.session) {
        redirect(ctx.res, '/');
        return;
      }
      await showLogin(ctx, 200);
    },
  }),
  route({
    method: 'POST',
    path: '/login',
    public: true,
    page: true,
    query: emptyQuery,
    body: loginForm,
    handle: async (ctx: RequestContext, { body }) => {
      const { app, now, address } = ctx;
      const admission = app.limiter.admit(address, now);
      if (!admission.ok) {
        const minutes = Math.ceil(admission.retryAfterMs / 60_000);
        ctx.res.setHeader('Retry-After', String(Math.ceil(admission.retryAfterMs / 1000)));
        await showLogin(
          ctx,
          429,
          `Too many wrong codes from this address. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`,
        );
        return;
      }
      const label = browserLabel(ctx.req.headers['user-agent']);
      const paired = await app.deps.sessions.pair(body.code, label, now);
      if (!paired) {
        app.limiter.fail(address, now);
        app.deps.log.warn({ address }, 'a pairing code was refused');
        await showLogin(
          ctx,
          401,
          'That code is wrong, used or expired. Codes work once, for 10 minutes.',
        );
        return;
      }
      app.limiter.succeed(address);
      app.deps.log.info({ session: paired.session.id }, 'a browser was paired');
      clearCookie(ctx.res, app.cookies.login, app.cookies.secure);
      setCookie(ctx.res, app.cookies.session, paired.token, {
        secure: app.cookies.secure,
        maxAgeS: SESSION_TTL_MS / 1000,
      });
      redirect(ctx.res, '/');
    },
  }),
  route({
    method: 'POST',
    path: '/logout',
    query: emptyQuery,
    body: csrfForm,
    handle: async (ctx: RequestContext) => {
      const session = sessionOf(ctx);
      await ctx.app.deps.sessions.revoke(session.id, 'logged_out', ctx.now);
      ctx.app.live.closeSession(session.id);
      clearCookie(ctx.res, ctx.app.cookies.session, ctx.app.cookies.secure);
      redirect(ctx.res, '/login');
    },
  }),
];
