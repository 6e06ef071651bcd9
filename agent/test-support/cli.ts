import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root, from this file's place in it. */
export const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'agent/cli/entry.ts');

/** argv for running `threshold` from source (tsx), as a test child process. */
export function cliCommand(args: readonly string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', ENTRY, ...args]];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `threshold ARGS` to completion (bounded by `timeoutMs`). */
export function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  const [cmd, argv] = cliCommand(args);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`threshold ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Starts `threshold run --config FILE` in the background; stderr (the log) is collected. */
export function startAgentProcess(configPath: string): { child: ChildProcess; log: () => string } {
  const [cmd, argv] = cliCommand(['run', '--config', configPath]);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000);
  });
  return { child, log: () => log };
}

/** Resolves when the child has exited; returns its exit code and signal. */
export function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolvePromise) =>
    child.once('exit', (code, signal) => resolvePromise({ code, signal })),
  );
}

/** A temp directory removed by the returned `cleanup`. */
export async function tempDir(
  prefix = 'threshold-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a config object as JSON into `dir` and returns its path. */
export async function writeConfig(
  dir: string,
  config: unknown,
  name = 'config.json',
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}
