import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/schema.js';
import type { AgentEvents } from '../events.js';
import type { LivePort } from '../live/settings.js';
import type { Logger } from '../log.js';
import type { PolicySource } from '../requests/policy-source.js';
import type { RequestStore, StoredRequest } from '../requests/store.js';
import type { AgentState } from '../state.js';
import type { ConsentPort } from './consent-port.js';
import { type Html, html } from './html.js';
import { sendHtml } from './http.js';
import type { LiveUpdates } from './live.js';
import type { LoginLimiter } from './rate-limit.js';
import type { Session, Sessions } from './sessions.js';
import type { Formatting } from './views/format.js';
import { layout, type Section } from './views/layout.js';

/** What the owner's page is given by the composition root. */
export interface OwnerPageDeps {
  config: Pick<Config, 'ui' | 'device'>;
  store: RequestStore;
  audit: AuditLog;
  policy: PolicySource;
  consent: ConsentPort;
  events: AgentEvents;
  /** `ui` facts for `threshold status`: listening, or the last listen error. */
  state: AgentState;
  sessions: Sessions;
  clock: { now(): number };
  log: Logger;
  /** Whether the request's footage has sound to offer. */
  audioAvailable(request: StoredRequest, signal?: AbortSignal): Promise<boolean>;
  /** The zone times are rendered in; the device's by default. */
  timeZone?: string;
  /** Live view; absent, the page says it is not available. */
  live?: LivePort;
}

/** The page's parts shared by every request. */
export interface App {
  deps: OwnerPageDeps;
  format: Formatting;
  live: LiveUpdates;
  limiter: LoginLimiter;
  cookies: { session: string; login: string; secure: boolean };
}

/** One request being answered. */
export interface RequestContext {
  app: App;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The client's address (rate limits). */
  address: string;
  now: number;
  /** Aborted when the client goes away (previews stop being made for no one). */
  signal: AbortSignal;
  /** Set on every route that is not public. */
  session?: Session;
  /** The session's CSRF token for the forms of the page. */
  csrf: string;
  /** Whether the request's `Origin` is this page's own (see `originAllowed`). */
  originAllowed(): boolean;
}

/** Sends a full page, with the navigation and the pending count (the page's indicator). */
export async function renderPage(
  ctx: RequestContext,
  status: number,
  section: Section,
  title: string,
  main: Html,
  scripts?: readonly string[],
): Promise<void> {
  const pending = ctx.session ? await ctx.app.deps.store.pendingCount() : 0;
  sendHtml(
    ctx.res,
    status,
    layout(
      {
        title,
        section,
        ...(scripts ? { scripts } : {}),
        ...(ctx.session ? { session: { csrf: ctx.csrf, pending } } : {}),
      },
      main,
    ),
  );
}

/** A page fragment the script swaps in (live updates): no layout. */
export function renderFragment(ctx: RequestContext, fragment: Html, pending?: number): void {
  if (pending !== undefined) ctx.res.setHeader('X-Pending-Count', String(pending));
  sendHtml(ctx.res, 200, html`${fragment}`);
}

/** `requireSession` for handlers of non-public routes (the server has checked it). */
export function sessionOf(ctx: RequestContext): Session {
  if (!ctx.session) throw new Error('unreachable: a non-public route without a session');
  return ctx.session;
}
