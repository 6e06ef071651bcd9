import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import { UserError } from '../../errors.js';
import { type CliContext, parseIsoFlag, withConfigOption } from '../context.js';
import { formatBytes, iso, table } from '../format.js';

export function registerSegments(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('segments')
      .description('list the recorded segments overlapping a time range')
      .requiredOption('--from <iso>', 'range start, ISO-8601 UTC (e.g. 2026-01-31T12:00:00Z)')
      .requiredOption('--to <iso>', 'range end, ISO-8601 UTC')
      .option('--json', 'print a JSON array'),
  ).action(async (options: { config: string; from: string; to: string; json?: boolean }) => {
    const from = parseIsoFlag('--from', options.from);
    const to = parseIsoFlag('--to', options.to);
    if (to <= from) throw new UserError('bad_flag', '--to: must be after --from');
    const config = await ctx.config(options.config);
    await withDeviceParts(config, { log: ctx.logger(config.log.level) }, async (parts) => {
      const rows = await parts.segments.overlapping(from, to);
      const listed = rows.map((row) => ({
        id: row.id,
        start: iso(row.startMs),
        end: iso(row.endMs),
        bytes: row.bytes,
        sha256: row.sha256,
        path: row.path,
      }));
      if (options.json) {
        ctx.out(JSON.stringify(listed, null, 2));
        return;
      }
      if (listed.length === 0) {
        ctx.out('no footage in that range');
        return;
      }
      ctx.out(
        table([
          ['ID', 'START', 'END', 'SIZE'],
          ...listed.map((row) => [String(row.id), row.start, row.end, formatBytes(row.bytes)]),
        ]),
      );
    });
  });
}
