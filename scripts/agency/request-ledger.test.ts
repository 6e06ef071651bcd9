import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRequestId } from '../../agent/requests/build.js';
import { ledgerPath, RequestLedger, recordSignedRequest } from './request-ledger.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-ledger-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the request ledger', () => {
  it('keeps every id of concurrent appends, in a file of mode 0600', async () => {
    const ids = Array.from({ length: 40 }, () => newRequestId());
    await Promise.all(
      ids.map((id) =>
        recordSignedRequest(dir, { id, payload: randomBytes(500), signedAt: Date.now() }),
      ),
    );
    expect((await stat(ledgerPath(dir))).mode & 0o777).toBe(0o600);
    const ledger = new RequestLedger(ledgerPath(dir));
    for (const id of ids) expect(await ledger.lookup(id)).toMatchObject({ id });
    expect(await ledger.lookup(newRequestId())).toBeUndefined();
    const lines = (await readFile(ledgerPath(dir), 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(40);
  });

  it('skips a line cut short by a crash without losing the next one', async () => {
    const before = newRequestId();
    const after = newRequestId();
    await recordSignedRequest(dir, { id: before, payload: Buffer.from('a'), signedAt: 0 });
    await appendFile(ledgerPath(dir), '\n{"id":"torn-by-a-cra');
    await recordSignedRequest(dir, { id: after, payload: Buffer.from('b'), signedAt: 0 });
    const ledger = new RequestLedger(ledgerPath(dir));
    expect(await ledger.lookup(before)).toBeDefined();
    expect(await ledger.lookup(after)).toMatchObject({
      payloadSha256: '3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d',
    });
  });

  it('reads as empty before any request was signed', async () => {
    expect(await new RequestLedger(ledgerPath(dir)).lookup(newRequestId())).toBeUndefined();
  });
});
