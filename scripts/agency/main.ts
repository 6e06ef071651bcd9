import { Command, CommanderError } from 'commander';
import { ThresholdError, UserError } from '../../agent/errors.js';
import { agentVersion } from '../../agent/version.js';
import { registerDelegate } from './delegate.js';
import { registerKeygen } from './keygen.js';
import { registerOpen } from './open.js';
import { registerReceive } from './receive.js';
import { registerRequest } from './request.js';
import { registerRevoke } from './revoke.js';

/**
 * `threshold-agency`: the agency side, for testers, demos and tests. Make keys, delegate
 * an agency under trust roots, sign and publish requests and revocations, receive and open
 * sealed clips.
 */

/** What the agency commands need from outside; tests pass their own. */
export interface AgencyContext {
  /** Writes a line of the command's result to stdout. */
  out(text: string): void;
  /** Now, ms since the epoch (issue times, validity starts). */
  now(): number;
}

export function defaultAgencyContext(): AgencyContext {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    now: () => Date.now(),
  };
}

export function buildAgencyProgram(ctx: AgencyContext): Command {
  const program = new Command('threshold-agency')
    .description('Agency-side tools for Threshold community requests: keys, delegations, requests.')
    .version(agentVersion(), '-V, --version', 'print the version')
    // `revoke --version N` is the revocation list's version: the program's own options
    // are read before the command only.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerKeygen(program, ctx);
  registerDelegate(program, ctx);
  registerRequest(program, ctx);
  registerRevoke(program, ctx);
  registerOpen(program, ctx);
  registerReceive(program, ctx);
  return program;
}

/** Runs the agency CLI; returns the process exit code. */
export async function main(
  argv: readonly string[],
  ctx: AgencyContext = defaultAgencyContext(),
): Promise<number> {
  try {
    await buildAgencyProgram(ctx).parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

/** User errors print one line naming the flag; anything else prints its stack. */
function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode; // commander printed it already
  if (err instanceof UserError) {
    process.stderr.write(`threshold-agency: ${err.message}\n`);
    return 2;
  }
  if (err instanceof ThresholdError) {
    process.stderr.write(`threshold-agency: ${err.code}: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(
    `threshold-agency: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return 1;
}
