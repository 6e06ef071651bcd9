import type { AuditEntry } from '../../audit/audit-log.js';
import type { ShareJob } from '../../share/types.js';
import { type RequestContext, renderFragment, renderPage } from '../context.js';
import { route } from '../router.js';
import { auditQuery, emptyQuery } from '../schemas.js';
import { auditPage } from '../views/audit.js';
import { historyList, historyPage } from '../views/history.js';

/** What was decided, how the uploads go, and the audit log with its verification. */

const HISTORY_LIMIT = 200;
const AUDIT_PAGE = 100;

async function history(ctx: RequestContext) {
  const all = await ctx.app.deps.store.list({ all: true });
  const decided = all
    .filter((r) => r.state === 'shared' || r.state === 'declined' || r.state === 'expired')
    .sort((a, b) => (b.decidedAt ?? b.receivedAt) - (a.decidedAt ?? a.receivedAt))
    .slice(0, HISTORY_LIMIT);
  const jobs = new Map<string, ShareJob[]>();
  for (const job of await ctx.app.deps.consent.jobs()) {
    const list = jobs.get(job.requestId) ?? [];
    list.push(job);
    jobs.set(job.requestId, list);
  }
  for (const list of jobs.values()) list.sort((a, b) => a.clipIndex - b.clipIndex);
  return { decided, jobs };
}

export const historyRoutes = [
  route({
    method: 'GET',
    path: '/history',
    page: true,
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      const { decided, jobs } = await history(ctx);
      await renderPage(ctx, 200, 'history', 'History', historyPage(decided, jobs, ctx.app.format));
    },
  }),
  route({
    method: 'GET',
    path: '/fragments/history',
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      const { decided, jobs } = await history(ctx);
      renderFragment(ctx, historyList(decided, jobs, ctx.app.format));
    },
  }),
  route({
    method: 'GET',
    path: '/audit',
    page: true,
    query: auditQuery,
    handle: async (ctx: RequestContext, { query }) => {
      const { audit } = ctx.app.deps;
      const verdict = await audit.verify();
      // Newest first: the page ends before `before` (the newest entry when absent).
      const newest = verdict.ok ? verdict.count : verdict.seq;
      const end = Math.min(query.before ?? newest + 1, newest + 1);
      const from = Math.max(0, end - 1 - AUDIT_PAGE);
      const entries: AuditEntry[] = (
        await audit.entries({ afterSeq: from, limit: end - 1 - from })
      ).reverse();
      await renderPage(
        ctx,
        200,
        'audit',
        'Audit log',
        auditPage(entries, verdict, from > 0 ? from + 1 : undefined, ctx.app.format),
      );
    },
  }),
];
