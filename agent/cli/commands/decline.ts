import type { Command } from 'commander';
import { UserError } from '../../errors.js';
import { type CliContext, withConfigOption } from '../context.js';
import { withRequestStore } from './requests.js';

const REQUEST_ID = /^[A-Za-z0-9_-]{22}$/;

export function registerDecline(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('decline')
      .description(
        'decline a pending request: it is recorded on this device only and nothing is sent',
      )
      .argument('<id>', 'the request id, as `threshold requests` lists it'),
  ).action(async (id: string, options: { config: string }) => {
    if (!REQUEST_ID.test(id)) {
      throw new UserError('bad_argument', 'id: not a request id (22 characters of [A-Za-z0-9_-])');
    }
    const config = await ctx.config(options.config);
    const declined = await withRequestStore(config, ({ store }) => store.decline(id));
    ctx.out(
      `declined ${declined.id} (${declined.agencyName}, ${declined.investigationCode}); nothing was sent`,
    );
  });
}
