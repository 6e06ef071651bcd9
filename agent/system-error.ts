import { getSystemErrorMap } from 'node:util';
import { errorMessage } from './errors.js';

/**
 * The cause of a failed file operation in words the owner can act on: the errno code and
 * its plain meaning (`EACCES: permission denied`, `ENOTDIR: not a directory`), from libuv's
 * own table. Never the file's contents; the path is the caller's to name.
 */
export function systemErrorText(err: unknown): string {
  const { code, errno } = (err ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return errorMessage(err);
  const meaning = typeof errno === 'number' ? getSystemErrorMap().get(errno)?.[1] : undefined;
  return meaning ? `${code}: ${meaning}` : code;
}

/** True when `err` is a failed system call with this errno code (`ENOENT` …). */
export function hasErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
