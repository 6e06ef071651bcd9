import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { requestIdSchema } from '../../agent/requests/protocol.js';

/**
 * The agency's ledger of the requests it signed, in its key directory: `requests.ledger`,
 * append-only, mode 0600, one JSON line per request. `threshold-agency request` appends
 * before the request is published or written, so every request a device can act on is in
 * it; the receiver accepts uploads only for ids found here.
 *
 * Appends are single `write`s on a descriptor opened with O_APPEND, so concurrent signers
 * never interleave inside a line (POSIX places each append at the end atomically), and
 * each line starts with a newline: a line cut short by a crash stays a line of its own,
 * skipped by the reader, and never swallows the next one. The file is fsynced before the
 * signer goes on.
 */
export const LEDGER_FILE = 'requests.ledger';

const entrySchema = z.strictObject({
  id: requestIdSchema,
  /** SHA-256 (hex) of the signed payload bytes: what a custody record must name. */
  payloadSha256: z.string().regex(/^[0-9a-f]{64}$/),
  signedAt: z.iso.datetime({ offset: false }),
});

export type LedgerEntry = z.infer<typeof entrySchema>;

export function ledgerPath(keyDir: string): string {
  return join(keyDir, LEDGER_FILE);
}

/** Appends one signed request; returns once it is on disk. */
export async function recordSignedRequest(
  keyDir: string,
  request: { id: string; payload: Uint8Array; signedAt: number },
): Promise<LedgerEntry> {
  const entry = entrySchema.parse({
    id: request.id,
    payloadSha256: createHash('sha256').update(request.payload).digest('hex'),
    signedAt: new Date(request.signedAt).toISOString(),
  });
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const handle = await open(ledgerPath(keyDir), 'a', 0o600);
  try {
    // A ledger made by hand with a looser mode is tightened: it names every request.
    await handle.chmod(0o600);
    await handle.write(`\n${JSON.stringify(entry)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return entry;
}

/** Reads the ledger, again only when it has grown or changed since the last read. */
export class RequestLedger {
  private cached: { size: number; mtimeMs: number; entries: Map<string, LedgerEntry> } | undefined;

  constructor(private readonly path: string) {}

  async lookup(id: string): Promise<LedgerEntry | undefined> {
    return (await this.entries()).get(id);
  }

  private async entries(): Promise<Map<string, LedgerEntry>> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    const cached = this.cached;
    if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) {
      return cached.entries;
    }
    const entries = new Map<string, LedgerEntry>();
    for (const line of (await readFile(this.path, 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      const parsed = entrySchema.safeParse(safeJson(line));
      if (parsed.success) entries.set(parsed.data.id, parsed.data);
    }
    this.cached = { size: info.size, mtimeMs: info.mtimeMs, entries };
    return entries;
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // A line cut short by a crash: not an entry.
    return undefined;
  }
}
