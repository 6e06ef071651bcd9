import { access, constants, mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { systemErrorText } from '../system-error.js';
import { type Config, configSchema } from './schema.js';

/** `a.b[2].c` from a zod issue path. */
function keyName(path: readonly PropertyKey[]): string {
  let name = '';
  for (const part of path) {
    if (typeof part === 'number') name += `[${part}]`;
    else name += name ? `.${String(part)}` : String(part);
  }
  return name || '(top level)';
}

/** One line per problem, each starting with the key it concerns. No values are quoted. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${keyName(issue.path)}.` : '';
      return issue.keys.map((key) => `${where}${key}: unknown key`).join('\n');
    }
    if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
      return `${keyName(issue.path)}: required`;
    }
    if (issue.code === 'invalid_union' && issue.message.includes('discriminator')) {
      return `${keyName(issue.path)}: unknown value`;
    }
    return `${keyName(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`;
  });
}

/** Parses and validates config text, reporting all problems at once. */
export function parseConfig(text: string, baseDir: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`(file): not valid JSON: ${(err as Error).message}`]);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues));
  const config = result.data;
  return {
    ...config,
    dataDir: isAbsolute(config.dataDir) ? config.dataDir : resolve(baseDir, config.dataDir),
  };
}

/** Reads, validates and prepares a config: the data directory must exist or be creatable. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    // The cause, not a guess: a file that exists but cannot be read is not a missing one.
    throw new ConfigError([`(file): cannot read ${path} (${systemErrorText(err)})`]);
  }
  const config = parseConfig(text, resolve(path, '..'));
  await ensureWritableDir(config.dataDir);
  return config;
}

async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError([`dataDir: is not a writable directory (${systemErrorText(err)})`]);
  }
}
