import type { Command } from 'commander';
import type { AuditEntry } from '../../audit/audit-log.js';
import { withDeviceParts } from '../../compose.js';
import { ThresholdError } from '../../errors.js';
import { type CliContext, withConfigOption } from '../context.js';
import { iso, table } from '../format.js';

/** One entry as `threshold audit --json` prints it. */
export interface ListedAuditEntry {
  seq: number;
  time: string;
  kind: string;
  requestId?: string;
  reason?: string;
  detail?: Record<string, unknown>;
  hash: string;
  prev: string;
}

export function registerAudit(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('audit')
      .description('show the hash-chained audit log: requests received, decisions, uploads')
      .option('--json', 'print a JSON array')
      .option('--verify', 'check the hash chain; exit non-zero naming the first broken entry'),
  ).action(async (options: { config: string; json?: boolean; verify?: boolean }) => {
    const config = await ctx.config(options.config);
    await withDeviceParts(config, { log: ctx.logger(config.log.level) }, async ({ audit }) => {
      if (options.verify) {
        const verdict = await audit.verify();
        if (!verdict.ok) {
          throw new ThresholdError(
            'audit_broken',
            `the audit log is broken at entry ${verdict.seq}: ${verdict.problem}`,
          );
        }
        ctx.out(
          options.json
            ? JSON.stringify({ ok: true, entries: verdict.count })
            : `audit log intact: ${verdict.count} entries`,
        );
        return;
      }
      const entries = (await audit.entries()).map(listEntry);
      if (options.json) {
        ctx.out(JSON.stringify(entries, null, 2));
        return;
      }
      if (entries.length === 0) {
        ctx.out('the audit log is empty');
        return;
      }
      ctx.out(
        table([
          ['SEQ', 'TIME', 'KIND', 'REQUEST', 'REASON'],
          ...entries.map((e) => [
            String(e.seq),
            e.time,
            e.kind,
            e.requestId ?? claimedId(e) ?? '-',
            e.reason ?? '',
          ]),
        ]),
      );
    });
  });
}

function listEntry(entry: AuditEntry): ListedAuditEntry {
  return {
    seq: entry.seq,
    time: iso(entry.time),
    kind: entry.kind,
    ...(entry.requestId !== undefined ? { requestId: entry.requestId } : {}),
    ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
    ...(entry.detail !== undefined ? { detail: entry.detail } : {}),
    hash: entry.hash,
    prev: entry.prev,
  };
}

/** A refused request's id is only claimed (its signature never verified): shown in brackets. */
function claimedId(entry: ListedAuditEntry): string | undefined {
  const claimed = entry.detail?.claimedId;
  return typeof claimed === 'string' ? `(${claimed.slice(0, 22)})` : undefined;
}
