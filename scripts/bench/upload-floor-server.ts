import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * The upload bench's floor: a plain Node HTTPS server on loopback that writes a PUT's body
 * to a file and answers 204 (what the receiver does for a PATCH, without tus). Run as its
 * own process, like the receiver:
 *
 *   node --import tsx scripts/bench/upload-floor-server.ts CERT KEY DIR
 *
 * prints {"port": N} and serves until killed.
 */
const [certFile, keyFile, dir] = process.argv.slice(2);
if (!certFile || !keyFile || !dir) throw new Error('usage: upload-floor-server.ts CERT KEY DIR');
const server = createServer(
  { cert: await readFile(certFile), key: await readFile(keyFile), requestTimeout: 0 },
  (req, res) => {
    pipeline(req, createWriteStream(join(dir, 'floor.bin'))).then(
      () => res.writeHead(204).end(),
      () => res.destroy(),
    );
  },
);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
