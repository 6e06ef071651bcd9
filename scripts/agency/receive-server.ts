import { mkdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server as TusServer } from '@tus/server';
import { EVENTS, type Upload } from '@tus/utils';
import { readSecretFile } from '../../agent/crypto/key-files.js';
import { errorMessage } from '../../agent/errors.js';
import type { Logger } from '../../agent/log.js';
import { MAX_CUSTODY_FILE_BYTES } from '../../agent/seal/custody.js';
import { wireMetadataSchema } from '../../agent/upload/metadata.js';
import { Deliverer } from './receive-deliver.js';
import type { ReceiverEvent } from './receive-events.js';
import { newUploadId, ReceiverStore, UPLOAD_ID } from './receive-store.js';
import { ledgerPath, RequestLedger } from './request-ledger.js';

/**
 * The agency's tus receiver (DESIGN.md, "Upload"): @tus/server with @tus/file-store under
 * `OUT/uploads`, over HTTPS. It creates uploads only for request ids in the agency's ledger
 * (403 otherwise, before anything is stored), only with exactly the four metadata keys
 * (400), only up to `maxBytes` (413; a custody record up to 16 MiB). Upload URLs are
 * `/files/<32 hex>`; any other path under `/files/` (`../`, `%2F`, NUL …) is refused
 * before tus sees it, and so are GET and DELETE: nobody downloads or deletes an upload.
 * Complete uploads go to the deliverer (receive-deliver.ts).
 */

export interface ReceiverOptions {
  /** The agency key directory: `box.key` opens the clips, `requests.ledger` lists ids. */
  readonly keyDir: string;
  readonly outDir: string;
  readonly host: string;
  readonly port: number;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly maxBytes: number;
  readonly log: Logger;
  readonly onEvent: (event: ReceiverEvent) => void;
}

export interface RunningReceiver {
  /** The tus endpoint, e.g. https://127.0.0.1:8443/files */
  readonly endpoint: string;
  readonly port: number;
  readonly server: HttpsServer;
  /** Resolves once every complete upload seen so far has been handled. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export const UPLOAD_PATH = '/files';
export const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;

/** A refusal the tus server sends as is (its hooks throw this shape). */
interface TusRefusal {
  status_code: number;
  body: string;
}

export async function startReceiver(options: ReceiverOptions): Promise<RunningReceiver> {
  const log = options.log.child({ component: 'receiver' });
  // Fail at start, not at the first clip: the key must be there and private.
  (await readSecretFile(join(options.keyDir, 'box.key'), 32)).fill(0);
  await mkdir(options.outDir, { recursive: true, mode: 0o700 });
  await mkdir(join(options.outDir, 'quarantine'), { recursive: true, mode: 0o700 });
  const store = new ReceiverStore(join(options.outDir, 'uploads'));
  const ledger = new RequestLedger(ledgerPath(options.keyDir));
  const deliverer = new Deliverer({
    store,
    ledger,
    keyDir: options.keyDir,
    outDir: options.outDir,
    log,
    emit: options.onEvent,
  });
  const tus = new TusServer({
    path: UPLOAD_PATH,
    datastore: store,
    maxSize: options.maxBytes,
    relativeLocation: true,
    allowedOrigins: [],
    namingFunction: () => newUploadId(),
    getFileIdFromRequest: (_req, lastPath) =>
      lastPath !== undefined && UPLOAD_ID.test(lastPath) ? lastPath : undefined,
    onUploadCreate: async (_req, upload) => {
      await admit(upload, ledger, options.maxBytes);
      return {};
    },
  });
  tus.on(EVENTS.POST_FINISH, () => deliverer.trigger());

  const server = createServer(
    {
      cert: await readFile(options.tlsCert),
      key: await readFile(options.tlsKey),
      minVersion: 'TLSv1.2',
      // A PATCH of a large clip at a capped rate takes long: no whole-request limit; a
      // connection idle for two minutes is dropped instead.
      requestTimeout: 0,
      headersTimeout: 30_000,
    },
    (req, res) => {
      handle(tus, req, res).catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'request failed');
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    },
  );
  server.setTimeout(120_000);

  await deliverer.sweep();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const endpoint = `https://${host}:${port}${UPLOAD_PATH}`;
  log.info({ endpoint }, 'receiving');
  // Pairs completed before a restart are delivered now.
  deliverer.trigger();
  return {
    endpoint,
    port,
    server,
    idle: () => deliverer.idle(),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await deliverer.stop();
    },
  };
}

/** The creation hook: metadata, ledger, sizes; throws a tus refusal. */
async function admit(upload: Upload, ledger: RequestLedger, maxBytes: number): Promise<void> {
  const metadata = wireMetadataSchema.safeParse(upload.metadata ?? {});
  if (!metadata.success)
    throw refusal(400, 'Upload-Metadata must be exactly requestId, kind, clipIndex, filename');
  if (upload.size === undefined) throw refusal(400, 'Upload-Length is required');
  if (!(await ledger.lookup(metadata.data.requestId))) {
    throw refusal(403, 'not a request of this agency');
  }
  const limit =
    metadata.data.kind === 'custody' ? Math.min(maxBytes, MAX_CUSTODY_FILE_BYTES) : maxBytes;
  if (upload.size > limit) throw refusal(413, 'the upload is too large');
}

function refusal(status: number, body: string): TusRefusal {
  return { status_code: status, body: `${body}\n` };
}

/** Routes before tus: only the creation URL and our upload URLs, only tus methods. */
async function handle(tus: TusServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '';
  const method = req.method ?? '';
  const isCreate = url === UPLOAD_PATH || url === `${UPLOAD_PATH}/`;
  const match = new RegExp(`^${UPLOAD_PATH}/([^/?#]*)$`).exec(url);
  if (isCreate) {
    if (method !== 'POST' && method !== 'OPTIONS') return reply(res, 405, 'method not allowed');
  } else if (match && UPLOAD_ID.test(match[1] ?? '')) {
    if (!['HEAD', 'PATCH', 'OPTIONS'].includes(method))
      return reply(res, 405, 'method not allowed');
  } else if (url.startsWith(`${UPLOAD_PATH}/`)) {
    return reply(res, 400, 'not an upload URL');
  } else {
    return reply(res, 404, 'not found');
  }
  await tus.handle(req, res);
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Tus-Resumable': '1.0.0' });
  res.end(`${text}\n`);
}
