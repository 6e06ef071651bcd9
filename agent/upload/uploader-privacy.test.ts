import { randomBytes } from 'node:crypto';
import { hostname, tmpdir, userInfo } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../test-support/poll.js';
import type { RecordedRequest } from './test-support/fault-front.js';
import { startSocks5, type TestSocksServer } from './test-support/socks5-server.js';
import { TEST_HOST_NAME } from './test-support/test-ca.js';
import { type UploadWorld, uploadWorld } from './test-support/upload-world.js';

/**
 * Promise 3 on the wire: what the agency's server sees of an upload. The front records
 * every request as received (method, path, raw headers, decoded metadata).
 */
let world: UploadWorld;
let socks: TestSocksServer | undefined;
beforeEach(async () => {
  world = await uploadWorld();
});
afterEach(async () => {
  await socks?.close();
  socks = undefined;
  await world.close();
});

/** Headers tus 1.0 needs, and the three Node's client adds. Anything else is a finding. */
const ALLOWED_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'content-type',
  'tus-resumable',
  'upload-length',
  'upload-metadata',
  'upload-offset',
]);
const METADATA_KEYS = ['clipIndex', 'filename', 'kind', 'requestId'];

/** Everything on the wire that could name the device or its owner; empty when clean. */
function findings(requests: readonly RecordedRequest[], secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const request of requests) {
    const names = request.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const name of names) {
      if (!ALLOWED_HEADERS.has(name)) found.push(`${request.method}: header ${name}`);
    }
    if (
      request.rawHeaders[request.rawHeaders.findIndex((n) => /^tus-resumable$/i.test(n)) + 1] !==
      '1.0.0'
    ) {
      found.push(`${request.method}: no Tus-Resumable: 1.0.0`);
    }
    if (request.metadata && Object.keys(request.metadata).sort().join() !== METADATA_KEYS.join()) {
      found.push(`${request.method}: metadata keys ${Object.keys(request.metadata).join()}`);
    }
    // The raw Upload-Metadata is base64: its decoded values are searched instead.
    const headerValues = request.rawHeaders.filter(
      (_, i) => i % 2 === 1 && !/^upload-metadata$/i.test(request.rawHeaders[i - 1] ?? ''),
    );
    const values = [
      request.path,
      ...headerValues,
      ...Object.values(request.metadata ?? {}).map(String),
    ];
    for (const value of values) {
      for (const secret of secrets) {
        if (containsToken(value, secret)) {
          found.push(`${request.method}: ${secret} in ${value.slice(0, 80)}`);
        }
      }
    }
  }
  return found;
}

/**
 * `secret` as a whole token of `value`: a short host name such as "vm" must not be found
 * inside random base64 (a file name, a request id) by chance.
 */
function containsToken(value: string, secret: string): boolean {
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9])${escaped}($|[^A-Za-z0-9])`).test(value);
}

describe('Uploader on the wire', () => {
  it('sends only tus headers and the four metadata keys, naming nothing of the device', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(300_000) });
    const secrets = [hostname(), userInfo().username, tmpdir(), world.dir, pair.clip, 'node'];
    // The check is not vacuous: a request that names the host or adds a header is caught.
    const leaky: RecordedRequest = {
      method: 'POST',
      path: '/files',
      rawHeaders: ['Tus-Resumable', '1.0.0', 'User-Agent', `node on ${hostname()}`],
      metadata: { requestId: 'x', kind: 'clip', clipIndex: '0', filename: 'a', clientId: 'c' },
      bodyBytes: 0,
      remote: { address: '127.0.0.1', port: 1 },
    };
    const caught = findings([leaky], secrets);
    expect(caught).toContain('POST: header user-agent');
    expect(caught).toContain('POST: metadata keys requestId,kind,clipIndex,filename,clientId');
    expect(caught).toContain(`POST: ${hostname()} in node on ${hostname()}`);

    const uploader = world.uploader();
    await uploader.upload(world.input(pair.clip, 'clip', 0));
    await uploader.upload(world.input(pair.custody, 'custody', 0));
    const methods = world.front.requests.map((r) => r.method);
    expect(methods).toEqual(['POST', 'PATCH', 'POST', 'PATCH']);
    expect(findings(world.front.requests, secrets)).toEqual([]);
    const posts = world.front.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.metadata)).toEqual([
      {
        requestId: world.requestId,
        kind: 'clip',
        clipIndex: '0',
        filename: expect.stringMatching(/^[A-Za-z0-9_-]{22}\.tseal$/),
      },
      {
        requestId: world.requestId,
        kind: 'custody',
        clipIndex: '0',
        filename: expect.stringMatching(/^[A-Za-z0-9_-]{22}\.tseal$/),
      },
    ]);
    await waitFor(() => world.events.find((e) => e.event === 'clip'), { timeoutMs: 30_000 });
  });

  it('through upload.proxy: the server sees only the proxy, which was given the host name', async () => {
    socks = await startSocks5({ [TEST_HOST_NAME]: '127.0.0.1' });
    const endpoint = world.front.endpoint.replace('127.0.0.1', TEST_HOST_NAME);
    const pair = await world.sealPair({ plaintext: randomBytes(300_000) });

    // Without the proxy the device cannot even resolve the name: success below is the proxy's.
    const direct = new AbortController();
    const errors: string[] = [];
    const unresolved = await world
      .uploader()
      .upload(
        world.input(pair.clip, 'clip', 0, {
          endpoint,
          signal: direct.signal,
          onRetry: (info) => {
            errors.push(info.error.message);
            direct.abort(new Error('enough'));
          },
        }),
      )
      .catch((err: unknown) => err);
    expect((unresolved as Error).message).toBe('enough');
    expect(errors[0]).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect(world.front.requests).toEqual([]);

    const uploader = world.uploader({ ca: world.ca.caFile, proxy: socks.url });
    await uploader.upload(world.input(pair.clip, 'clip', 0, { endpoint }));
    await uploader.upload(world.input(pair.custody, 'custody', 0, { endpoint }));
    expect(socks.requests.length).toBeGreaterThan(0);
    for (const request of socks.requests) {
      expect(request).toMatchObject({
        addressType: 'domain',
        host: TEST_HOST_NAME,
        port: world.front.port,
      });
    }
    // Every connection the server saw is one the proxy made.
    const proxyPorts = new Set(socks.requests.map((r) => r.localPort));
    expect(world.front.requests.length).toBe(4);
    for (const request of world.front.requests) {
      expect(proxyPorts.has(request.remote.port)).toBe(true);
    }
    expect(findings(world.front.requests, [hostname(), world.dir])).toEqual([]);
    await waitFor(() => world.events.find((e) => e.event === 'clip'), { timeoutMs: 30_000 });
  });

  it('trusts upload.ca besides the system roots, and nothing else', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(10_000) });
    for (const settings of [{}, { ca: world.ca.otherCaFile }]) {
      const controller = new AbortController();
      const errors: string[] = [];
      await world
        .uploader(settings)
        .upload(
          world.input(pair.clip, 'clip', 0, {
            signal: controller.signal,
            onRetry: (info) => {
              errors.push(info.error.message);
              controller.abort(new Error('enough'));
            },
          }),
        )
        .catch(() => undefined);
      expect(errors[0]).toMatch(/UNABLE_TO_VERIFY|CERT/);
    }
    expect(world.front.requests).toEqual([]);
    await world.uploader({ ca: world.ca.caFile }).upload(world.input(pair.clip, 'clip', 0));
    expect(world.front.requests.map((r) => r.method)).toEqual(['POST', 'PATCH']);
  });
});
