import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../log.js';
import { MediaServer } from '../media-server.js';

/** Starts a media server, prints its pid, and waits to be killed (a crashed agent). */
const server = await MediaServer.start({
  storeDir: join(process.argv[2] ?? tmpdir(), 'store'),
  log: createLogger({ level: 'silent' }),
});
await server.ready;
process.stdout.write(`${server.pid}\n`);
setInterval(() => undefined, 60_000);
