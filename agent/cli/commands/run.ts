import type { Command } from 'commander';
import { z } from 'zod';
import { Agent, hardwareFor } from '../../compose.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { type CliContext, withConfigOption } from '../context.js';
import { parseFlags, secondsFlag, textFlag } from '../flags.js';

/** Exit status after SIGTERM, as a shell reports a process ended by it (128 + 15). */
const EXIT_SIGTERM = 143;

const runFlags = z.object({ config: textFlag, duration: secondsFlag.optional() });

export function registerRun(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('run')
      .description('run the agent: record the camera, listen for requests, serve the owner')
      .option(
        '--duration <seconds>',
        'stop by itself after this many seconds (for tests and demos)',
      ),
  ).action(async (raw: unknown) => {
    const options = parseFlags(runFlags, raw);
    const config = await ctx.config(options.config);
    const log = ctx.logger(config.log.level);
    process.exitCode = await runAgent(config, log, options.duration);
  });
}

/**
 * Runs the agent until SIGTERM or SIGINT (or `durationSeconds`), then stops every part in
 * reverse order, ffmpeg included. Returns the exit code.
 */
export async function runAgent(
  config: Config,
  log: Logger,
  durationSeconds?: number,
  options: {
    embeddedBrokerPort?: number;
    /** Called once every part runs (the demo starts its agency here). */
    onStarted?: (agent: Agent, signal: AbortSignal) => void;
  } = {},
): Promise<number> {
  const agent = await Agent.create(
    config,
    hardwareFor(config, log),
    log,
    options.embeddedBrokerPort === undefined
      ? {}
      : { embeddedBrokerPort: options.embeddedBrokerPort },
  );
  const abort = new AbortController();
  let exitCode = 0;
  const stopOn = (signal: NodeJS.Signals, code: number) => {
    const handler = () => {
      log.info({ signal }, 'stopping');
      exitCode = code;
      abort.abort();
    };
    process.once(signal, handler);
    return () => process.off(signal, handler);
  };
  const unhook = [stopOn('SIGTERM', EXIT_SIGTERM), stopOn('SIGINT', 0)];
  const timer =
    durationSeconds !== undefined && Number.isFinite(durationSeconds)
      ? setTimeout(() => abort.abort(), durationSeconds * 1000)
      : undefined;
  try {
    await agent.start(abort.signal);
    log.info({ dataDir: config.dataDir }, 'agent running');
    if (!abort.signal.aborted) options.onStarted?.(agent, abort.signal);
    if (!abort.signal.aborted) {
      await new Promise<void>((resolve) =>
        abort.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
  } finally {
    clearTimeout(timer);
    await agent.stop();
    for (const off of unhook) off();
    log.info('stopped');
  }
  return exitCode;
}
