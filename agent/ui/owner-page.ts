import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { ZodError } from 'zod';
import { errorMessage } from '../errors.js';
import { backoffMs, delay, type Service } from '../lifecycle.js';
import type { App, OwnerPageDeps, RequestContext } from './context.js';
import { renderPage } from './context.js';
import { cookieNames } from './cookies.js';
import { html } from './html.js';
import { HttpError, parseCookies, parseForm, readBody, sendText } from './http.js';
import { LiveUpdates } from './live.js';
import { LoginLimiter } from './rate-limit.js';
import { type Match, Router } from './router.js';
import { authRoutes } from './routes/auth.js';
import { historyRoutes } from './routes/history.js';
import { liveRoutes } from './routes/live.js';
import { liveViewRoutes } from './routes/live-view.js';
import { mediaRoutes } from './routes/media.js';
import { requestRoutes } from './routes/requests.js';
import { settingsRoutes } from './routes/settings.js';
import { describeProblem } from './schemas.js';
import {
  allowedHosts,
  csrfToken,
  hostAllowed,
  originAllowed,
  sameSecret,
  setSecurityHeaders,
} from './security.js';
import { describeJob } from './views/format.js';

/**
 * The owner's web page, served by the agent (DESIGN.md, "Owner consent"): plain
 * `node:http` (or `node:https` with `ui.tls`), server-rendered HTML, one script, live
 * updates as server-sent events.
 *
 * Every request goes through the same steps, in this order, before its handler runs:
 *   1. security headers (CSP and the rest) on every answer;
 *   2. Host: the configured address, localhost or 127.0.0.1 with the port, else 421
 *      (DNS rebinding);
 *   3. the route (404, 405), its path parameters and query by schema (400);
 *   4. the session cookie, unless the route is public (401, or the login page);
 *   5. for POST: Origin (403), a form body of at most 16 KiB (415, 413), the CSRF token
 *      (403), the form by schema (400).
 * A refusal at any step changes nothing.
 *
 * A listen that fails (the port is taken, the TLS files cannot be read) is logged,
 * written to `AgentState` under `ui` for `threshold status`, and retried with backoff;
 * the rest of the agent goes on.
 */

export interface UiStatus {
  state: 'listening' | 'failing' | 'stopped';
  since: number;
  /** `http://host:port` once listening. */
  url?: string;
  lastError?: { at: number; message: string };
}

export const UI_STATE_KEY = 'ui';

export class OwnerPage implements Service {
  readonly name = 'ui';
  readonly #app: App;
  readonly #router = new Router<RequestContext>();
  #server: Server | undefined;
  #hosts: ReadonlySet<string> = new Set();
  #static = new Map<string, { body: Buffer; type: string; etag: string }>();
  readonly #stopping = new AbortController();
  #retrying: Promise<void> = Promise.resolve();
  readonly #tls: boolean;

  constructor(
    private readonly deps: OwnerPageDeps,
    private readonly options: { retry?: { baseMs: number; maxMs: number } } = {},
  ) {
    this.#tls = deps.config.ui.tls !== undefined;
    this.#app = {
      deps,
      format: { timeZone: deps.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone },
      live: new LiveUpdates({ events: deps.events, describeJob }),
      limiter: new LoginLimiter(),
      cookies: cookieNames(this.#tls),
    };
    this.#router.add(
      ...authRoutes,
      ...requestRoutes,
      ...mediaRoutes,
      ...historyRoutes,
      ...settingsRoutes,
      ...liveRoutes,
      ...liveViewRoutes,
    );
  }

  /** The port listened on (the configured one, or the one picked for port 0). */
  get port(): number | undefined {
    const address = this.#server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : undefined;
  }

  /** The page's address for a browser on this device. */
  get url(): string | undefined {
    const port = this.port;
    return port === undefined ? undefined : `${this.#tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  /** Listens once; on failure keeps trying in the background until stopped. */
  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    signal.addEventListener('abort', () => this.#stopping.abort(), { once: true });
    await this.#loadStatic();
    this.#app.live.start();
    if (await this.#listen()) return;
    this.#retrying = this.#retry(this.#stopping.signal);
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#retrying;
    this.#app.live.stop();
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await this.#report({ state: 'stopped', since: this.deps.clock.now() });
  }

  async #retry(signal: AbortSignal): Promise<void> {
    const { baseMs, maxMs } = this.options.retry ?? { baseMs: 1000, maxMs: 60_000 };
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await delay(backoffMs(attempt, baseMs, maxMs), signal);
      } catch {
        return; // stopping
      }
      if (await this.#listen()) return;
    }
  }

  /** One attempt to listen; true when it does. */
  async #listen(): Promise<boolean> {
    const { listen, tls, hosts } = this.deps.config.ui;
    const colon = listen.lastIndexOf(':');
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(colon + 1));
    let server: Server;
    try {
      server = tls
        ? createHttpsServer({ cert: await readFile(tls.cert), key: await readFile(tls.key) })
        : createHttpServer();
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        void this.#handle(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const message = errorMessage(err);
      this.deps.log.error({ err: message, listen }, 'the owner page cannot listen; trying again');
      const now = this.deps.clock.now();
      await this.#report({ state: 'failing', since: now, lastError: { at: now, message } });
      return false;
    }
    server.on('error', (err) =>
      this.deps.log.error({ err: errorMessage(err) }, 'owner page server error'),
    );
    this.#server = server;
    this.#hosts = allowedHosts(host, this.port ?? port, hosts);
    this.deps.log.info({ url: this.url }, 'owner page listening');
    await this.#report({ state: 'listening', since: this.deps.clock.now(), url: this.url ?? '' });
    return true;
  }

  async #report(status: UiStatus): Promise<void> {
    try {
      await this.deps.state.set(UI_STATE_KEY, status);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'could not record the page status');
    }
  }

  async #loadStatic(): Promise<void> {
    const js = 'text/javascript; charset=utf-8';
    const files: [string, string | URL, string][] = [
      ['app.js', new URL('./static/app.js', import.meta.url), js],
      ['app.css', new URL('./static/app.css', import.meta.url), 'text/css; charset=utf-8'],
      // The live view's player, served from the installed package (never from a CDN).
      ['mpegts.js', createRequire(import.meta.url).resolve('mpegts.js'), js],
    ];
    for (const [name, file, type] of files) {
      const body = await readFile(file);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.#static.set(name, { body, type, etag });
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res, this.#tls);
    if (!hostAllowed(req, this.#hosts)) {
      sendText(res, 421, 'Misdirected request: this page answers only to its own address.');
      return;
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const ctx: RequestContext = {
      app: this.#app,
      req,
      res,
      url: new URL(req.url ?? '/', 'http://page.invalid'),
      address: req.socket.remoteAddress ?? 'unknown',
      now: this.deps.clock.now(),
      signal: abort.signal,
      csrf: '',
      originAllowed: () => originAllowed(req, this.#tls ? 'https' : 'http', this.#hosts),
    };
    let match: Match<RequestContext> | undefined;
    try {
      match = this.#route(req, ctx);
      if (!match) return; // answered (static file)
      if (match.kind !== 'found') return;
      await this.#serve(ctx, match);
    } catch (err) {
      await this.#fail(ctx, err, match?.kind === 'found' && match.route.page === true);
    }
  }

  /** Steps 3 for static files and the routing itself; undefined once answered. */
  #route(req: IncomingMessage, ctx: RequestContext): Match<RequestContext> | undefined {
    const method = req.method ?? 'GET';
    if (!['GET', 'HEAD', 'POST'].includes(method)) {
      ctx.res.setHeader('Allow', 'GET, HEAD, POST');
      throw new HttpError(405, 'method_not_allowed', 'That method is not allowed.');
    }
    const path = ctx.url.pathname;
    if (path.startsWith('/static/')) {
      this.#sendStatic(ctx, path.slice('/static/'.length));
      return undefined;
    }
    const match = this.#router.match(method, path);
    if (match.kind === 'not_found') throw new HttpError(404, 'not_found', 'There is no such page.');
    if (match.kind === 'method_not_allowed') {
      ctx.res.setHeader('Allow', match.allow.join(', '));
      throw new HttpError(405, 'method_not_allowed', 'That method is not allowed here.');
    }
    return match;
  }

  #sendStatic(ctx: RequestContext, name: string): void {
    if (ctx.req.method === 'POST') throw new HttpError(405, 'method_not_allowed', 'Not here.');
    if (!/^[a-z]+\.(js|css)$/.test(name)) {
      throw new HttpError(400, 'bad_name', 'That file name is not valid.');
    }
    const file = this.#static.get(name);
    if (!file) throw new HttpError(404, 'not_found', 'There is no such file.');
    ctx.res.setHeader('ETag', file.etag);
    ctx.res.setHeader('Cache-Control', 'no-cache');
    if (ctx.req.headers['if-none-match'] === file.etag) {
      ctx.res.writeHead(304);
      ctx.res.end();
      return;
    }
    ctx.res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length });
    ctx.res.end(file.body);
  }

  async #serve(ctx: RequestContext, match: Extract<Match<RequestContext>, { kind: 'found' }>) {
    const { route } = match;
    const cookies = parseCookies(ctx.req.headers.cookie);
    const token = cookies.get(this.#app.cookies.session);
    if (token && /^[A-Za-z0-9_-]{43}$/.test(token)) {
      const session = await this.deps.sessions.find(token, ctx.now);
      if (session) {
        ctx.session = session;
        ctx.csrf = csrfToken(token, 'session');
      }
    }
    if (!ctx.session) {
      if (!route.public) {
        if (route.page && ctx.req.method !== 'POST') {
          ctx.res.writeHead(303, { Location: '/login', 'Content-Length': 0 });
          ctx.res.end();
          return;
        }
        throw new HttpError(401, 'no_session', 'Pair this browser first: your session has ended.');
      }
      const nonce = cookies.get(this.#app.cookies.login);
      if (nonce) ctx.csrf = csrfToken(nonce, 'login');
    }
    const params = parse(route.params, match.params, 'bad_path');
    const query = parse(route.query, Object.fromEntries(ctx.url.searchParams), 'bad_query');
    let body: unknown;
    if (ctx.req.method === 'POST') {
      if (!originAllowed(ctx.req, this.#tls ? 'https' : 'http', this.#hosts)) {
        throw new HttpError(403, 'bad_origin', 'This form did not come from this page.');
      }
      const type = ctx.req.headers['content-type'] ?? '';
      if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        throw new HttpError(415, 'bad_content_type', 'Send the form as the page does.');
      }
      const form = parseForm(await readBody(ctx.req));
      const given = form.csrf;
      if (typeof given !== 'string' || ctx.csrf === '' || !sameSecret(given, ctx.csrf)) {
        throw new HttpError(
          403,
          'bad_csrf',
          'This form has expired. Go back, reload the page and try again.',
        );
      }
      body = parse(route.body, form, 'bad_form');
    }
    await route.handle(ctx, { params, query, body });
  }

  async #fail(ctx: RequestContext, err: unknown, page: boolean): Promise<void> {
    const { res } = ctx;
    const refusal =
      err instanceof HttpError
        ? err
        : err instanceof ZodError
          ? new HttpError(400, 'bad_input', describeProblem(err))
          : undefined;
    if (!refusal) {
      this.deps.log.error({ err: errorMessage(err), path: ctx.url.pathname }, 'owner page error');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = refusal?.status ?? 500;
    const message = refusal?.message ?? 'Something went wrong on the camera. Try again.';
    if (status === 413) res.setHeader('Connection', 'close');
    try {
      if (page) {
        const back = ctx.session ? { href: '/', label: 'Back to the requests' } : undefined;
        await renderPage(
          ctx,
          status,
          'requests',
          'Not done',
          html`<h1>Not done</h1><p class="error" role="alert">${message}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`,
        );
      } else {
        sendText(res, status, message);
      }
    } catch (failure) {
      this.deps.log.error({ err: errorMessage(failure) }, 'owner page could not answer');
      res.destroy();
    }
  }
}

function parse(
  schema:
    | { safeParse(v: unknown): { success: boolean; data?: unknown; error?: unknown } }
    | undefined,
  value: unknown,
  code: string,
): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new HttpError(400, code, describeProblem(result.error as ZodError));
  }
  return result.data;
}
