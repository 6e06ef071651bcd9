import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import type { Config } from '../../config/schema.js';
import { distanceM } from '../../requests/geo.js';
import type { StoredRequest } from '../../requests/store.js';
import { type CliContext, withConfigOption } from '../context.js';
import { iso, table } from '../format.js';

/** One request as `threshold requests --json` prints it. Times are ISO-8601 UTC. */
export interface ListedRequest {
  id: string;
  state: StoredRequest['state'];
  agencyId: string;
  agencyName: string;
  /** The trust roots that vouched for the agency. */
  rootNames: string[];
  investigationCode: string;
  title: string;
  description: string;
  window: { start: string; end: string };
  expiresAt: string;
  receivedAt: string;
  /** The matching segments' ids (held while the request is pending). */
  segments: number[];
  area: { lat: number; lon: number; radiusM: number };
  /** How far the area's centre is from this camera, metres. */
  distanceM: number;
  contact: StoredRequest['contact'] | null;
}

export function registerRequests(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('requests')
      .description('list pending community requests (nothing is sent: listing is local)')
      .option('--all', 'also list declined, shared, expired and no-footage requests')
      .option('--json', 'print a JSON array'),
  ).action(async (options: { config: string; all?: boolean; json?: boolean }) => {
    const config = await ctx.config(options.config);
    await withDeviceParts(config, { log: ctx.logger(config.log.level) }, async ({ requests }) => {
      const listed = (await requests.list({ all: Boolean(options.all) })).map((request) =>
        listRequest(request, config),
      );
      if (options.json) {
        ctx.out(JSON.stringify(listed, null, 2));
        return;
      }
      if (listed.length === 0) {
        ctx.out(options.all ? 'no requests' : 'no pending requests');
        return;
      }
      ctx.out(
        table([
          ['ID', 'STATE', 'AGENCY', 'CODE', 'TITLE', 'WINDOW', 'EXPIRES', 'SEGMENTS'],
          ...listed.map((r) => [
            r.id,
            r.state.replace('_', ' '),
            r.agencyName,
            r.investigationCode,
            r.title.length > 40 ? `${r.title.slice(0, 39)}…` : r.title,
            `${r.window.start} – ${r.window.end}`,
            r.expiresAt,
            String(r.segments.length),
          ]),
        ]),
      );
    });
  });
}

export function listRequest(request: StoredRequest, config: Config): ListedRequest {
  return {
    id: request.id,
    state: request.state,
    agencyId: request.agencyId,
    agencyName: request.agencyName,
    rootNames: request.rootNames,
    investigationCode: request.investigationCode,
    title: request.title,
    description: request.description,
    window: { start: iso(request.window.start), end: iso(request.window.end) },
    expiresAt: iso(request.expiresAt),
    receivedAt: iso(request.receivedAt),
    segments: request.segmentIds,
    area: request.area,
    distanceM: Math.round(distanceM(config.device.location, request.area)),
    contact: request.contact ?? null,
  };
}
