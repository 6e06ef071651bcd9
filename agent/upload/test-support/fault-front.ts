import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { Socket } from 'node:net';

/**
 * An HTTPS front for tests, between the uploader and the real receiver: it terminates TLS
 * (with the test CA's certificate), records every request (method, path, raw headers,
 * decoded tus metadata, body bytes) and forwards it, unless told to misbehave:
 *
 * - `status`: answer the next `count` requests with `status` (body read and dropped);
 * - `drop`: on the next PATCH, forward `afterBytes` of the body, then cut both connections;
 * - `stall`: on the next PATCH, forward `afterBytes`, then stop reading and never answer;
 * - `hang`: accept requests and never answer them (until the fault is cleared);
 * - `down()` / `up()`: stop listening (connections cut) and listen again on the same port.
 */
export type Fault =
  | { readonly kind: 'none' }
  | { readonly kind: 'status'; readonly status: number; count: number }
  | { readonly kind: 'drop'; readonly afterBytes: number }
  | { readonly kind: 'stall'; readonly afterBytes: number }
  | { readonly kind: 'hang' };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** As received: name, value, name, value … */
  readonly rawHeaders: readonly string[];
  readonly metadata: Record<string, string | null> | undefined;
  bodyBytes: number;
  status?: number;
  /** The Upload-Offset of the receiver's answer, if any. */
  offset?: number;
  /** The TCP peer: who connected to the front. */
  readonly remote: { address: string; port: number };
}

export interface FaultFront {
  readonly port: number;
  /** The tus endpoint through the front. */
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  /** performance.now() when the last `stall` or `hang` fault began holding a request. */
  readonly heldAt: number | undefined;
  setFault(fault: Fault): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultFront(options: {
  upstreamPort: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Host name put in the endpoint URL (default 127.0.0.1). */
  host?: string;
}): Promise<FaultFront> {
  const ca = await readFile(options.caFile);
  const agent = new Agent({ keepAlive: true, ca });
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let fault: Fault = { kind: 'none' };
  let heldAt: number | undefined;
  let port = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      rawHeaders: [...req.rawHeaders],
      metadata: decodeMetadata(req.headers['upload-metadata']),
      bodyBytes: 0,
      remote: { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 },
    };
    requests.push(record);
    const current = fault;
    if (current.kind === 'hang') {
      heldAt = performance.now();
      return;
    }
    if (current.kind === 'status' && current.count > 0) {
      current.count--;
      record.status = current.status;
      req.resume();
      req.on('end', () => {
        res.writeHead(current.status, { 'Tus-Resumable': '1.0.0', 'Content-Length': '0' }).end();
      });
      return;
    }
    const faultyPatch =
      req.method === 'PATCH' && (current.kind === 'drop' || current.kind === 'stall')
        ? current
        : undefined;
    if (faultyPatch) fault = { kind: 'none' };
    const upstream = request({
      host: '127.0.0.1',
      port: options.upstreamPort,
      servername: 'localhost',
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    });
    upstream.on('response', (answer) => {
      record.status = answer.statusCode;
      const offset = answer.headers['upload-offset'];
      if (typeof offset === 'string') record.offset = Number(offset);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.on('data', (chunk: Buffer) => {
      const limit = faultyPatch?.afterBytes ?? Number.POSITIVE_INFINITY;
      const room = limit - record.bodyBytes;
      const part = chunk.length <= room ? chunk : chunk.subarray(0, Math.max(0, room));
      record.bodyBytes += part.length;
      const reached = faultyPatch !== undefined && record.bodyBytes >= limit;
      // Once the limit is reached, what was forwarded must reach the receiver first.
      const flushed = () => {
        if (!reached || !faultyPatch) return;
        if (faultyPatch.kind === 'drop') {
          upstream.destroy();
          req.socket.destroy();
        }
      };
      if (!upstream.write(part, flushed) && !reached) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
      if (reached) {
        req.removeAllListeners('data');
        req.pause();
        if (faultyPatch?.kind === 'stall') heldAt = performance.now();
      }
    });
    req.on('end', () => upstream.end());
  };

  let server: Server;
  const listen = async () => {
    server = createServer(
      { cert: await readFile(options.certFile), key: await readFile(options.keyFile) },
      onRequest,
    );
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : port;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  await listen();

  return {
    get port() {
      return port;
    },
    get endpoint() {
      return `https://${options.host ?? '127.0.0.1'}:${port}/files`;
    },
    requests,
    get heldAt() {
      return heldAt;
    },
    setFault(next) {
      fault = next;
    },
    down: stop,
    up: listen,
    async close() {
      await stop();
      agent.destroy();
    },
  };
}

function decodeMetadata(
  header: string | string[] | undefined,
): Record<string, string | null> | undefined {
  if (typeof header !== 'string') return undefined;
  const metadata: Record<string, string | null> = {};
  for (const pair of header.split(',')) {
    const [key, value] = pair.trim().split(' ');
    if (key)
      metadata[key] = value === undefined ? null : Buffer.from(value, 'base64').toString('utf8');
  }
  return metadata;
}
