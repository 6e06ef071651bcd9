import { once } from 'node:events';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import nacl from 'tweetnacl';

/** Pieces the provisioning and doctor tests share. */

export const CAMERA_USER = 'installer';
export const CAMERA_PASSWORD = 'Cam-Pr0vision-8zK';

/** A trust roots file with `count` fresh Ed25519 roots; returns its path. */
export async function writeTrustRoots(dir: string, count = 2): Promise<string> {
  const roots = Array.from({ length: count }, (_, i) => ({
    name: `Test root ${i + 1}`,
    publicKey: Buffer.from(nacl.sign.keyPair().publicKey).toString('base64'),
  }));
  const path = join(dir, 'trust-roots.json');
  await writeFile(path, JSON.stringify(roots, null, 2));
  return path;
}

/** An HTTP server on loopback that answers every request with a web page: not ONVIF. */
export async function startWebServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Router</title><h1>Welcome</h1>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every file under `dir` (recursively), with its text; for "no password anywhere" checks. */
export async function filesUnder(dir: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    const info = await stat(path);
    if (info.isDirectory()) out.push(...(await filesUnder(path)));
    else if (info.isFile()) out.push({ path, text: await readFile(path, 'latin1') });
  }
  return out;
}

/** Flags for a non-interactive run that finds the camera by discovery on loopback only. */
export function loopbackDiscoveryFlags(discoveryPort: number): string[] {
  return [
    '--discover',
    ...['--discovery-port', String(discoveryPort)],
    // A directed Probe to loopback, sent from loopback: nothing leaves the machine.
    ...['--discovery-address', '127.0.0.1'],
    ...['--discovery-interface', '127.0.0.1'],
    ...['--discovery-seconds', '2'],
  ];
}
