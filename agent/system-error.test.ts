import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hasErrno, systemErrorText } from './system-error.js';

describe('systemErrorText', () => {
  it('gives the errno code and its plain meaning', async () => {
    const err = await readFile('/nonexistent/threshold').catch((e: unknown) => e);
    expect(systemErrorText(err)).toBe('ENOENT: no such file or directory');
    expect(hasErrno(err, 'ENOENT')).toBe(true);
    // Permission denied (what a non-root owner meets) is said as such, from libuv's table.
    const denied = Object.assign(new Error('open failed'), {
      code: 'EACCES',
      errno: -constants.errno.EACCES,
    });
    expect(systemErrorText(denied)).toBe('EACCES: permission denied');
    expect(hasErrno(denied, 'ENOENT')).toBe(false);
  });

  it('falls back to the message of anything that is not a failed system call', () => {
    expect(systemErrorText(new Error('something else'))).toBe('something else');
    expect(systemErrorText(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe(
      'x',
    );
  });
});
