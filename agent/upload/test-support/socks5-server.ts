import { connect, createServer, isIP, type Server, type Socket } from 'node:net';

/**
 * A small SOCKS5 server for tests (RFC 1928: no authentication, CONNECT only). It records
 * what each client asked for, as sent: a host name (ATYP 3) or an address (ATYP 1 or 4),
 * and resolves names only from the test's own table, so a client that resolved the name
 * itself shows up as an address, and a name no one else can resolve proves the client
 * left resolution to the proxy.
 */
export interface SocksRequest {
  readonly addressType: 'ipv4' | 'domain' | 'ipv6';
  readonly host: string;
  readonly port: number;
  /** The local port of the proxy's own connection to the target, once made. */
  localPort?: number;
}

export interface TestSocksServer {
  readonly url: string;
  readonly requests: SocksRequest[];
  close(): Promise<void>;
}

export async function startSocks5(hosts: Record<string, string>): Promise<TestSocksServer> {
  const requests: SocksRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'piped' = 'greeting';
    const onData = (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      if (stage === 'greeting') {
        const methods = buffered[1];
        if (buffered.length < 2 || methods === undefined || buffered.length < 2 + methods) return;
        if (buffered[0] !== 5) return client.destroy();
        buffered = buffered.subarray(2 + methods);
        client.write(Buffer.from([5, 0])); // no authentication
        stage = 'request';
      }
      if (stage === 'request') {
        const request = parseRequest(buffered);
        if (!request) return;
        stage = 'piped';
        client.off('data', onData);
        requests.push(request.request);
        const rest = buffered.subarray(request.length);
        const target =
          request.request.addressType === 'domain'
            ? hosts[request.request.host]
            : request.request.host;
        if (!target) {
          client.end(Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0])); // host unreachable
          return;
        }
        const upstream = connect(request.request.port, target, () => {
          request.request.localPort = upstream.localPort;
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          if (rest.length > 0) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
      }
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `socks5://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function parseRequest(bytes: Buffer): { request: SocksRequest; length: number } | undefined {
  if (bytes.length < 5) return undefined;
  const type = bytes[3];
  let host: string;
  let offset: number;
  if (type === 1) {
    if (bytes.length < 10) return undefined;
    host = [...bytes.subarray(4, 8)].join('.');
    offset = 8;
  } else if (type === 3) {
    const length = bytes[4] ?? 0;
    if (bytes.length < 5 + length + 2) return undefined;
    host = bytes.subarray(5, 5 + length).toString('latin1');
    offset = 5 + length;
  } else if (type === 4) {
    if (bytes.length < 22) return undefined;
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(4 + i * 2).toString(16));
    host = groups.join(':');
    offset = 20;
  } else {
    return undefined;
  }
  const addressType = type === 1 ? 'ipv4' : type === 3 ? 'domain' : 'ipv6';
  if (addressType !== 'domain' && isIP(host) === 0) return undefined;
  return { request: { addressType, host, port: bytes.readUInt16BE(offset) }, length: offset + 2 };
}
