import { spawn } from 'node:child_process';

export interface ToolOutput {
  /** null when the tool could not be started (missing) or was killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The tool could not be run at all (e.g. ENOENT). */
  readonly missing: boolean;
}

/** Runs a tool without a shell, bounded by `signal`; never rejects. */
export function runTool(
  command: string,
  args: readonly string[],
  signal: AbortSignal,
  env?: NodeJS.ProcessEnv,
): Promise<ToolOutput> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      ...(env ? { env } : {}),
    });
    let stdout = '';
    let stderr = '';
    let missing = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = (stdout + chunk).slice(-65_536);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8192);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') missing = true;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr, missing }));
  });
}
