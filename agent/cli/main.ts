import { Command, CommanderError } from 'commander';
import { ConfigError, ThresholdError, UserError } from '../errors.js';
import { agentVersion } from '../version.js';
import { registerAudit } from './commands/audit.js';
import { registerClips } from './commands/clips.js';
import { registerCustody } from './commands/custody.js';
import { registerDecline } from './commands/decline.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExport } from './commands/export.js';
import { registerPair } from './commands/pair.js';
import { registerProvision } from './commands/provision.js';
import { registerRequests } from './commands/requests.js';
import { registerRun } from './commands/run.js';
import { registerSegments } from './commands/segments.js';
import { registerShare } from './commands/share.js';
import { registerStatus } from './commands/status.js';
import { registerUploads } from './commands/uploads.js';
import { type CliContext, defaultContext } from './context.js';

/**
 * `threshold`: the device-side command line. Each command lives in `commands/` and
 * registers itself here.
 */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('threshold')
    .description(
      'Owner-first agent for doorbell cameras: records locally, shares only what you approve.',
    )
    .version(agentVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRun(program, ctx);
  registerDemo(program, ctx);
  registerStatus(program, ctx);
  registerSegments(program, ctx);
  registerCustody(program, ctx);
  registerRequests(program, ctx);
  registerClips(program, ctx);
  registerShare(program, ctx);
  registerUploads(program, ctx);
  registerDecline(program, ctx);
  registerAudit(program, ctx);
  registerExport(program, ctx);
  registerProvision(program, ctx);
  registerDoctor(program, ctx);
  registerPair(program, ctx);
  return program;
}

/** Runs the CLI; returns the process exit code. User errors print one line, no stack. */
export async function main(
  argv: readonly string[],
  ctx: CliContext = defaultContext(),
): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(protectRequestIds(argv), { from: 'user' });
    // Actions that end with a status of their own (run, status --check) set exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander has printed its own message (or the help) already.
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    for (const problem of err.problems) process.stderr.write(`threshold: config ${problem}\n`);
    return 2;
  }
  if (err instanceof UserError) {
    process.stderr.write(`threshold: ${err.message}\n`);
    return 2;
  }
  if (err instanceof ThresholdError) {
    process.stderr.write(`threshold: ${err.code}: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(
    `threshold: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return 1;
}

/**
 * Request ids are base64url, so one in 64 starts with `-` and would read as an unknown
 * option. A token that is exactly a request id (22 characters, no option of ours is that
 * shape) is moved behind `--`, where it is the command's argument.
 */
export function protectRequestIds(argv: readonly string[]): string[] {
  if (argv.includes('--')) return [...argv];
  const ids = argv.filter((arg) => /^-[A-Za-z0-9_-]{21}$/.test(arg));
  if (ids.length === 0) return [...argv];
  return [...argv.filter((arg) => !ids.includes(arg)), '--', ...ids];
}
