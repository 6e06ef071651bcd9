import { vi } from 'vitest';
import { defaultContext } from '../cli/context.js';
import { main } from '../cli/main.js';

/**
 * Runs `threshold ARGS` in the test's own process: what it prints (`out`), what it writes
 * to stderr, and its exit code. Faster than a child process where the process boundary is
 * not what is tested.
 */
export async function cliInProcess(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await main(args, { ...defaultContext(), out: (text) => out.push(text) });
    return { code, out: out.join('\n'), err: err.join('') };
  } finally {
    spy.mockRestore();
  }
}
