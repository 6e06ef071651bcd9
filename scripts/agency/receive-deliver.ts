import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readSecretFile } from '../../agent/crypto/key-files.js';
import { errorMessage, ThresholdError } from '../../agent/errors.js';
import type { Logger } from '../../agent/log.js';
import { syncDirectory } from '../../agent/seal/atomic-output.js';
import { type CustodyRecord, openCustody } from '../../agent/seal/custody.js';
import { openSealedClip } from './open.js';
import { custodyFacts, type ReceiverEvent } from './receive-events.js';
import type { CompletedUpload, ReceiverStore } from './receive-store.js';
import type { RequestLedger } from './request-ledger.js';

/**
 * Turns complete uploads into verified clips. When the clip and the custody record of one
 * (request, clip index) are both complete, they are opened and checked exactly as
 * `threshold-agency open` does (the seal, the record's signature, the record against the
 * clip), plus: the authenticated seal context must be the request and index the upload
 * claimed, and the record must name the payload this agency signed (from the ledger).
 * Then `OUT/REQUEST/clip-N.mp4` and `clip-N.custody.json` appear (mode 0600), the raw
 * uploads are retired, and one event is reported.
 *
 * A pair that fails verification is moved to `OUT/quarantine/…` beside a `reason.json`;
 * no plaintext is written for it (the opener writes to a temporary file removed on
 * failure; a crash mid-way can leave one, swept at start).
 *
 * INVARIANTS:
 * - one scan at a time; a trigger during a scan causes one more scan after it;
 * - `clip-N.custody.json` is written last, so its presence means delivered: a later upload
 *   for the same clip is a duplicate (same sealed bytes) or a conflict (quarantined);
 * - an upload is retired only after its outputs (or its quarantine copy) are durable.
 */

export interface DelivererDeps {
  readonly store: ReceiverStore;
  readonly ledger: RequestLedger;
  readonly keyDir: string;
  readonly outDir: string;
  readonly log: Logger;
  readonly emit: (event: ReceiverEvent) => void;
}

/**
 * Codes of a failed verification: the pair is quarantined. Any other error (a key file
 * with a loose mode, a full disk) leaves the pair where it is for the next scan: the next
 * completed upload, or a restart.
 */
const VERIFICATION_CODES = /^(seal_|custody_)|^not_a_clip$|^unknown_request$/;

export class Deliverer {
  private running: Promise<void> | undefined;
  private again = false;
  private readonly controller = new AbortController();

  constructor(private readonly deps: DelivererDeps) {}

  /** Removes plaintext fragments left by a crash mid-open (never a verified clip). */
  async sweep(): Promise<void> {
    for (const entry of await readdir(this.deps.outDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'uploads' || entry.name === 'quarantine') continue;
      const dir = join(this.deps.outDir, entry.name);
      for (const name of await readdir(dir)) {
        if (name.startsWith('.') && name.endsWith('.part')) await rm(join(dir, name));
      }
    }
  }

  /** Schedules a scan of the complete uploads. */
  trigger(): void {
    if (this.controller.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when no scan is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.controller.abort(new Error('the receiver is stopping'));
    await this.idle();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.scan();
      } catch (err) {
        if (this.controller.signal.aborted) return;
        this.deps.log.error(
          { err: errorMessage(err) },
          'delivery scan failed; it runs again on the next upload',
        );
      }
    } while (this.again && !this.controller.signal.aborted);
  }

  private async scan(): Promise<void> {
    const byClip = new Map<string, CompletedUpload[]>();
    for (const upload of await this.deps.store.completed()) {
      const key = `${upload.metadata.requestId}/${upload.metadata.clipIndex}`;
      byClip.set(key, [...(byClip.get(key) ?? []), upload]);
    }
    for (const uploads of byClip.values()) {
      this.controller.signal.throwIfAborted();
      await this.handleClip(uploads);
    }
  }

  /** The complete uploads of one (request, clip index), oldest first. */
  private async handleClip(uploads: CompletedUpload[]): Promise<void> {
    const pending = [...uploads];
    while (pending[0]) {
      const delivered = await this.delivered(pending[0]);
      if (delivered) {
        for (const upload of pending) await this.againstDelivered(upload, delivered);
        return;
      }
      const clip = pending.find((upload) => upload.metadata.kind === 'clip');
      const custody = pending.find((upload) => upload.metadata.kind === 'custody');
      if (!clip || !custody) return; // its partner is still on its way
      pending.splice(pending.indexOf(clip), 1);
      pending.splice(pending.indexOf(custody), 1);
      await this.deliver(clip, custody);
    }
  }

  private async deliver(clip: CompletedUpload, custody: CompletedUpload): Promise<void> {
    const { requestId, clipIndex } = clip.metadata;
    const { clipPath, custodyPath, dir } = this.outputs(clip);
    try {
      const entry = await this.deps.ledger.lookup(requestId);
      if (!entry) throw new ThresholdError('unknown_request', 'the request is not in the ledger');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const opened = await openSealedClip({
        keyDir: this.deps.keyDir,
        input: clip.path,
        output: clipPath,
        custody: custody.path,
        expect: { requestId, clipIndex, requestPayloadSha256: entry.payloadSha256 },
        signal: this.controller.signal,
      });
      const record = opened.record as CustodyRecord;
      await writeFileDurably(
        custodyPath,
        `${JSON.stringify({ record, envelope: opened.custodyEnvelope }, null, 2)}\n`,
      );
      await this.deps.store.retire(clip.id, 'delivered', clip.size);
      await this.deps.store.retire(custody.id, 'delivered', custody.size);
      this.deps.emit({
        event: 'clip',
        requestId,
        clipIndex,
        path: clipPath,
        bytes: opened.plaintextBytes,
        sha256: opened.plaintextSha256,
        custodyPath,
        custody: custodyFacts(record),
      });
    } catch (err) {
      if (!(err instanceof ThresholdError) || !VERIFICATION_CODES.test(err.code)) throw err;
      await this.quarantine([clip, custody], err.code, err.message);
    }
  }

  /** A clip already delivered: the same sealed bytes again, or a conflicting upload. */
  private async againstDelivered(upload: CompletedUpload, delivered: CustodyRecord): Promise<void> {
    const { requestId, clipIndex, kind } = upload.metadata;
    const same =
      kind === 'clip'
        ? (await sha256File(upload.path)) === delivered.sealed.sha256
        : await this.sameRecord(upload, delivered);
    if (!same) {
      await this.quarantine(
        [upload],
        'conflicts_with_delivered',
        `clip ${clipIndex} of this request was delivered already with other content`,
      );
      return;
    }
    await this.deps.store.retire(upload.id, 'duplicate', upload.size);
    this.deps.emit({ event: 'duplicate', requestId, clipIndex, kind });
  }

  private async sameRecord(upload: CompletedUpload, delivered: CustodyRecord): Promise<boolean> {
    try {
      const opened = await openCustody(upload.path, await this.boxKey());
      return JSON.stringify(opened.record) === JSON.stringify(delivered);
    } catch (err) {
      if (err instanceof ThresholdError && VERIFICATION_CODES.test(err.code)) return false;
      throw err;
    }
  }

  private async quarantine(uploads: CompletedUpload[], reason: string, message: string) {
    const first = uploads[0] as CompletedUpload;
    const { requestId, clipIndex } = first.metadata;
    const dir = join(
      this.deps.outDir,
      'quarantine',
      `${requestId}-clip-${clipIndex}-${first.id.slice(0, 8)}`,
    );
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const files = uploads.map((upload) => ({ id: upload.id, kind: upload.metadata.kind }));
    await writeFileDurably(
      join(dir, 'reason.json'),
      `${JSON.stringify({ reason, message, requestId, clipIndex, uploads: files, at: new Date().toISOString() }, null, 2)}\n`,
    );
    for (const upload of uploads) {
      await rename(upload.path, join(dir, `${upload.metadata.kind}-${upload.id}.tseal`));
    }
    await syncDirectory(dir);
    for (const upload of uploads)
      await this.deps.store.retire(upload.id, 'quarantined', upload.size);
    this.deps.log.warn({ requestId, clipIndex, reason }, 'upload quarantined');
    this.deps.emit({ event: 'quarantined', requestId, clipIndex, reason, message, path: dir });
  }

  /** The delivered record of this upload's clip, if any (its custody JSON is written last). */
  private async delivered(upload: CompletedUpload): Promise<CustodyRecord | undefined> {
    try {
      const text = await readFile(this.outputs(upload).custodyPath, 'utf8');
      return (JSON.parse(text) as { record: CustodyRecord }).record;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private outputs(upload: CompletedUpload) {
    const { requestId, clipIndex } = upload.metadata;
    // The request id is 22 base64url characters (checked at creation): a safe name.
    const dir = join(this.deps.outDir, requestId);
    return {
      dir,
      clipPath: join(dir, `clip-${clipIndex}.mp4`),
      custodyPath: join(dir, `clip-${clipIndex}.custody.json`),
    };
  }

  private boxKey(): Promise<Uint8Array> {
    return readSecretFile(join(this.deps.keyDir, 'box.key'), 32);
  }
}

async function writeFileDurably(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await syncDirectory(dirname(path));
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
