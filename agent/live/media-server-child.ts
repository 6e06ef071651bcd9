import { createRequire } from 'node:module';
import { z } from 'zod';

/**
 * The media server's own process (DESIGN.md, "Live view"): `node-media-server` boxed.
 * The library keeps its configuration in a module singleton, binds 0.0.0.0 by default,
 * sends `Access-Control-Allow-Origin: *` on every stream and exits the process when a
 * port is busy, so it never runs inside the agent. The agent forks this file and sends
 * its settings over the IPC channel (never on the command line, where `ps` would show
 * the signing secret); this process answers `ready` once both ports listen, and reports
 * publishes and plays. When the agent goes away (the channel closes) it exits.
 *
 * The box: loopback only; RTMP (for our ffmpeg) and HTTP-FLV (for the agent's proxy);
 * play and publish need a URL signed with the agent's secret; no web admin, no API (no
 * `auth.jwt`), no recording, no webhook, no static files. Its small store of stream
 * history lives in a directory of the agent's data.
 */

export const childSettings = z.strictObject({
  type: z.literal('start'),
  rtmpPort: z.number().int().min(1).max(65535),
  httpPort: z.number().int().min(1).max(65535),
  secret: z.string().regex(/^[0-9a-f]{64}$/),
  storeDir: z.string().min(1),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
});
export type ChildSettings = z.infer<typeof childSettings>;

/** What the child tells the agent. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'publish' | 'unpublish' | 'play' | 'unplay'; path: string };

interface NmsSession {
  streamPath?: string;
}
interface NodeMediaServer {
  httpServer: { httpServer?: import('node:http').Server };
  rtmpServer: { tcpServer?: import('node:net').Server };
  on(event: string, listener: (session: NmsSession) => void): void;
  run(): Promise<void>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(settings: ChildSettings): Promise<void> {
  const NodeMediaServerClass = require('node-media-server') as new (
    config: unknown,
    path: string,
  ) => NodeMediaServer;
  const logger = require('node-media-server/src/core/logger.js') as { level: string };
  const server = new NodeMediaServerClass(
    {
      bind: '127.0.0.1',
      rtmp: { port: settings.rtmpPort },
      http: { port: settings.httpPort },
      auth: { play: true, publish: true, secret: settings.secret },
      webadmin: { enable: false },
      store: { path: settings.storeDir, maxHistory: 100 },
      notify: { url: '' },
    },
    '',
  );
  // The library sets "debug" in its constructor: a line per packet burst is too much.
  logger.level = settings.logLevel;
  for (const [event, type] of [
    ['postPublish', 'publish'],
    ['donePublish', 'unpublish'],
    ['postPlay', 'play'],
    ['donePlay', 'unplay'],
  ] as const) {
    server.on(event, (session) => send({ type, path: String(session.streamPath ?? '') }));
  }
  const listening = (listener: import('node:net').Server | undefined) =>
    new Promise<void>((resolve) => {
      if (!listener || listener.listening) resolve();
      else listener.once('listening', () => resolve());
    });
  await server.run();
  await Promise.all([
    listening(server.httpServer.httpServer),
    listening(server.rtmpServer.tcpServer),
  ]);
  send({ type: 'ready' });
  const stop = () => {
    void server.stop().finally(() => process.exit(0));
    // A stop that hangs (a client that never reads) does not keep the process.
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
}

if (!process.send) {
  console.error('This is the media server of the agent: it is started by the agent only.');
  process.exit(2);
}
process.once('message', (message: unknown) => {
  const parsed = childSettings.safeParse(message);
  if (!parsed.success) {
    console.error('[ERROR] the media server got settings it cannot use');
    process.exit(2);
  }
  main(parsed.data).catch((err: unknown) => {
    console.error(`[ERROR] the media server failed to start: ${(err as Error).message}`);
    process.exit(1);
  });
});
