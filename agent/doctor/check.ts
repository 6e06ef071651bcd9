import { errorMessage } from '../errors.js';
import { redactCredentials } from '../log.js';

/**
 * `threshold doctor`'s checks: each looks at one thing, says what it found and, when that
 * is wrong, how to fix it. A check that throws is reported as failed with its message;
 * it never stops the others.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export type CheckId =
  | 'media_tools'
  | 'data_dir'
  | 'free_space'
  | 'file_modes'
  | 'camera'
  | 'broker'
  | 'clock'
  | 'ui';

export interface Finding {
  readonly status: CheckStatus;
  /** What was found, in one line. */
  readonly detail: string;
  /** What to do about it (for warn and fail). */
  readonly fix?: string;
}

export interface CheckResult extends Finding {
  readonly id: CheckId;
  readonly title: string;
}

export interface Check {
  readonly id: CheckId;
  readonly title: string;
  run(signal: AbortSignal): Promise<Finding>;
}

export interface DoctorReport {
  /** No check failed (warnings allowed). */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

/** Runs the checks one after another (they share a small machine), each time-bounded. */
export async function runChecks(
  checks: readonly Check[],
  options: { timeoutMs: number },
): Promise<DoctorReport> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const signal = AbortSignal.timeout(options.timeoutMs);
    let finding: Finding;
    try {
      finding = await check.run(signal);
    } catch (err) {
      finding = {
        status: 'fail',
        detail: signal.aborted
          ? `did not finish within ${options.timeoutMs / 1000} s`
          : redactCredentials(errorMessage(err)),
      };
    }
    results.push({ id: check.id, title: check.title, ...finding });
  }
  return { ok: results.every((r) => r.status !== 'fail'), checks: results };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** One line per check, and an indented "fix:" line under each problem. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.title.length));
  const lines = report.checks.flatMap((c) => [
    `${MARK[c.status]}  ${c.title.padEnd(width)}  ${c.detail}`,
    ...(c.fix && (c.status === 'fail' || c.status === 'warn')
      ? [`      ${' '.repeat(width)}  fix: ${c.fix}`]
      : []),
  ]);
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  lines.push(
    failed === 0
      ? `all checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}`
      : `${failed} check${failed === 1 ? '' : 's'} failed`,
  );
  return lines.join('\n');
}
