import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import { type CliContext, parseRequestId, withConfigOption } from '../context.js';

export function registerDecline(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('decline')
      .description(
        'decline a pending request: it is recorded on this device only and nothing is sent',
      )
      .argument('<id>', 'the request id, as `threshold requests` lists it'),
  ).action(async (id: string, options: { config: string }) => {
    const requestId = parseRequestId(id);
    const config = await ctx.config(options.config);
    const declined = await withDeviceParts(
      config,
      { log: ctx.logger(config.log.level) },
      ({ consent }) => consent.decline(requestId),
    );
    ctx.out(
      `declined ${declined.id} (${declined.agencyName}, ${declined.investigationCode}); nothing was sent`,
    );
  });
}
