import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../test-support/mosquitto.js';
import { type SecureBroker, startSecureBroker } from '../test-support/secure-broker.js';
import { BrokerCheckError, checkBrokerConnection } from './connection-check.js';
import { EmbeddedBroker } from './embedded-broker.js';

let secure: SecureBroker;

beforeAll(async () => {
  secure = await startSecureBroker();
});

afterAll(async () => {
  await secure?.stop();
});

const fail = (options: Parameters<typeof checkBrokerConnection>[0]) =>
  checkBrokerConnection(options).then(
    () => {
      throw new Error('the check passed');
    },
    (err: unknown) => err as BrokerCheckError,
  );

describe('checkBrokerConnection', () => {
  it('connects with TLS and credentials, and leaves no session and no message behind', async () => {
    const result = await checkBrokerConnection({
      url: secure.url,
      username: secure.username,
      password: secure.password,
      caFile: secure.caFile,
      timeoutMs: 10_000,
    });
    expect(result).toEqual({ protocolVersion: 5, tls: true });
    await secure.broker.waitForLog(
      /Client threshold-check-[0-9a-f]+ disconnected|closed its connection/,
    );
    expect(secure.broker.publishes()).toEqual([]);
    expect(secure.broker.logText()).not.toMatch(/Received SUBSCRIBE/);
    // Clean start with no session expiry: the broker keeps nothing for the check's id.
    expect(secure.broker.logText()).toMatch(/\(p5, c1, k\d+/);
  });

  it('names a wrong password, without quoting it', async () => {
    const error = await fail({
      url: secure.url,
      username: secure.username,
      password: 'wrong-pass-991',
      caFile: secure.caFile,
      timeoutMs: 10_000,
    });
    expect(error).toBeInstanceOf(BrokerCheckError);
    expect(error.code).toBe('broker_auth');
    expect(error.message).not.toContain('wrong-pass-991');
  });

  it('names TLS when the broker’s certificate is not trusted', async () => {
    const error = await fail({
      url: secure.url,
      username: secure.username,
      password: secure.password,
      timeoutMs: 10_000,
    });
    expect(error.code).toBe('broker_tls');
    expect(error.message).toMatch(/CA file/);
  });

  it('names an unreachable broker', async () => {
    const port = await freePort();
    const error = await fail({ url: `mqtt://127.0.0.1:${port}`, timeoutMs: 5000 });
    expect(error.code).toBe('broker_unreachable');
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('names a CA file that cannot be read', async () => {
    const error = await fail({ url: secure.url, caFile: '/nonexistent/ca.pem', timeoutMs: 5000 });
    expect(error.code).toBe('broker_ca');
  });

  it('falls back to MQTT 3.1.1 for a broker that speaks nothing newer (aedes)', async () => {
    const broker = new EmbeddedBroker({ port: 0, log: pino({ level: 'silent' }) });
    const abort = new AbortController();
    await broker.start(abort.signal);
    try {
      const result = await checkBrokerConnection({ url: broker.url, timeoutMs: 5000 });
      expect(result).toEqual({ protocolVersion: 4, tls: false });
    } finally {
      abort.abort();
      await broker.stop();
    }
  });
});
