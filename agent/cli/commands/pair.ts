import type { Command } from 'commander';
import { withDeviceParts } from '../../compose.js';
import type { Config } from '../../config/schema.js';
import { formatCode, PAIRING_CODE_TTL_MS, PairingCodes } from '../../ui/pairing.js';
import { type CliContext, withConfigOption } from '../context.js';
import { iso } from '../format.js';

/**
 * `threshold pair`: a one-time code that pairs a browser with the owner's page. Run on
 * the device (whoever can run it can read the configuration, so may pair); the code is
 * stored hashed, works once, for 10 minutes.
 */
export function registerPair(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('pair')
      .description('print a one-time code that pairs a browser with the owner page (10 minutes)')
      .option('--json', 'print {"code", "expiresAt", "url"} as JSON'),
  ).action(async (options: { config: string; json?: boolean }) => {
    const config = await ctx.config(options.config);
    const issued = await withDeviceParts(
      config,
      { log: ctx.logger(config.log.level) },
      ({ db, audit, floor }) => new PairingCodes({ db, audit }).issue(floor.now()),
    );
    const url = pageUrl(config);
    if (options.json) {
      ctx.out(
        JSON.stringify({ code: formatCode(issued.code), expiresAt: iso(issued.expiresAt), url }),
      );
      return;
    }
    ctx.out(
      [
        `pairing code: ${formatCode(issued.code)}`,
        `open ${url} in a browser and enter it; it works once, for ${PAIRING_CODE_TTL_MS / 60_000} minutes (until ${iso(issued.expiresAt)})`,
      ].join('\n'),
    );
  });
}

/** The page's address as the owner types it. */
export function pageUrl(config: Pick<Config, 'ui'>): string {
  const { listen, tls } = config.ui;
  const colon = listen.lastIndexOf(':');
  let host = listen.slice(0, colon);
  if (host === '0.0.0.0' || host === '[::]') host = config.ui.hosts[0] ?? 'localhost';
  return `${tls ? 'https' : 'http'}://${host}:${listen.slice(colon + 1)}/`;
}
