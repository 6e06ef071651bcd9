import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statusReport } from '../cli/commands/status.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { AgentEvents } from '../events.js';
import { createLogger } from '../log.js';
import { type DeviceParts, openDeviceParts } from '../parts.js';
import { PolicySource } from '../requests/policy-source.js';
import { tempDir } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { makeTestCa } from '../upload/test-support/test-ca.js';
import { createOwnerPage } from './create.js';
import type { OwnerPage, UiStatus } from './owner-page.js';
import { formatCode, PairingCodes } from './pairing.js';
import { PageClient } from './test-support/http-client.js';

/**
 * The page as a service of the agent: a port that is taken is an error in the log and
 * in `threshold status`, retried until it is free; with `ui.tls` it speaks HTTPS and its
 * cookies are Secure; beyond loopback without TLS, the configuration is refused.
 */

const log = createLogger({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

function configFor(dir: string, ui: Record<string, unknown>, make = true): Config {
  if (make) mkdirSync(join(dir, 'data'), { recursive: true });
  return parseConfig(
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.37, lon: 4.89 } },
      camera: { source: 'emulated' },
      ui,
    }),
    dir,
  );
}

async function pageOn(config: Config): Promise<{ page: OwnerPage; parts: DeviceParts }> {
  const parts = await openDeviceParts(config, { log });
  const policy = new PolicySource({
    db: parts.db,
    audit: parts.audit,
    clock: parts.floor,
    file: config.policy,
  });
  const page = createOwnerPage({
    config,
    parts,
    consent: parts.consent,
    policy,
    events: new AgentEvents(),
    log,
    retry: { baseMs: 50, maxMs: 200 },
  });
  const stopping = new AbortController();
  await page.start(stopping.signal);
  cleanups.push(async () => {
    stopping.abort();
    await page.stop();
    await parts.close();
  });
  return { page, parts };
}

describe('the page as a service', () => {
  it('reports a taken port in the status, keeps trying, and listens once it is free', async () => {
    const { dir, cleanup } = await tempDir('threshold-ui-');
    cleanups.push(cleanup);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const config = configFor(dir, { listen: `127.0.0.1:${port}` });
    const { page, parts } = await pageOn(config);

    expect(page.port).toBeUndefined();
    const failing = await parts.state.get<UiStatus>('ui');
    expect(failing).toMatchObject({ state: 'failing' });
    expect(failing?.lastError?.message).toContain('EADDRINUSE');
    const report = await statusReport(parts, Date.now());
    expect(report.page).toMatchObject({ state: 'failing', url: null });

    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await waitFor(() => page.port === port, { what: 'the page to listen once the port is free' });
    expect((await statusReport(parts, Date.now())).page).toMatchObject({
      state: 'listening',
      url: `http://127.0.0.1:${port}`,
    });
    const res = await new PageClient(`http://127.0.0.1:${port}`).get('/login');
    expect(res.status).toBe(200);
  });

  it('speaks HTTPS with ui.tls: Secure __Host- cookies and HSTS', async () => {
    const { dir, cleanup } = await tempDir('threshold-ui-tls-');
    cleanups.push(cleanup);
    const ca = await makeTestCa(dir);
    const config = configFor(dir, {
      listen: '127.0.0.1:0',
      tls: { cert: ca.certFile, key: ca.keyFile },
    });
    const { page, parts } = await pageOn(config);
    expect(page.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const caPem = await readFile(ca.caFile);
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
        (resolve, reject) => {
          const url = new URL(path, page.url);
          const req = httpsRequest(url, { ca: caPem, headers }, (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
            );
          });
          req.on('error', reject);
          req.end();
        },
      );
    const login = await get('/login');
    expect(login.status).toBe(200);
    expect(login.headers['strict-transport-security']).toBe('max-age=31536000');
    const [cookie] = login.headers['set-cookie'] as string[];
    expect(cookie).toMatch(
      /^__Host-threshold_login=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure$/,
    );

    // Pairing over HTTPS sets a Secure session cookie.
    const code = formatCode(
      (await new PairingCodes({ db: parts.db, audit: parts.audit }).issue(Date.now())).code,
    );
    const nonce = cookie?.split(';')[0] ?? '';
    const csrf = PageClient.csrfOf(login.body);
    const paired = await new Promise<{ status: number; cookies: string[] }>((resolve, reject) => {
      const body = new URLSearchParams({ csrf, code }).toString();
      const req = httpsRequest(
        new URL('/login', page.url),
        {
          method: 'POST',
          ca: caPem,
          headers: {
            Cookie: nonce,
            Origin: page.url ?? '',
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [] }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(paired.status).toBe(303);
    expect(paired.cookies.find((c) => c.startsWith('__Host-threshold_session='))).toMatch(
      /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/,
    );
  });

  it('refuses to listen beyond loopback without TLS, naming the key', () => {
    for (const listen of ['0.0.0.0:8470', '192.168.1.20:8470', '[::]:8470']) {
      let error: unknown;
      try {
        configFor(tmpdir(), { listen }, false);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'ui.tls: required when ui.listen is not a loopback address (127.0.0.1, ::1, localhost)',
      ]);
    }
    expect(
      configFor(tmpdir(), { listen: '0.0.0.0:8470', tls: { cert: 'c', key: 'k' } }, false).ui
        .listen,
    ).toBe('0.0.0.0:8470');
    expect(configFor(tmpdir(), {}, false).ui.listen).toBe('127.0.0.1:8470');
  });
});
