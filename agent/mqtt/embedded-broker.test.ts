import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EmbeddedBroker } from './embedded-broker.js';

const log = pino({ level: 'silent' });
let broker: EmbeddedBroker;

beforeEach(async () => {
  broker = new EmbeddedBroker({ port: 0, log });
  await broker.start(new AbortController().signal);
});
afterEach(async () => {
  await broker.stop();
});

/**
 * Publishes once: 'accepted' on PUBACK, 'refused' when the broker drops the connection
 * (MQTT 3.1.1 §3.3.5: the only way it can say no).
 */
async function tryPublish(topic: string, payload: Buffer, retain = false): Promise<string> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  const closed = new Promise<string>((resolve) => client.once('close', () => resolve('refused')));
  try {
    return await Promise.race([
      client.publishAsync(topic, payload, { qos: 1, retain }).then(() => 'accepted'),
      closed,
    ]);
  } finally {
    client.end(true);
  }
}

it('listens on loopback only, on the port it reports', () => {
  expect(broker.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
  expect(broker.port).toBeGreaterThan(0);
});

it('carries request and revocation topics and refuses anything else', async () => {
  expect(await tryPublish('threshold/v1/requests/u09t', Buffer.from('{}'))).toBe('accepted');
  expect(await tryPublish('threshold/v1/trust/revocations', Buffer.from('{}'), true)).toBe(
    'accepted',
  );
  expect(await tryPublish('threshold/v1/requests/u09t/extra', Buffer.from('{}'))).toBe('refused');
  expect(await tryPublish('threshold/v1/requests/aaaa', Buffer.from('{}'))).toBe('refused'); // not geohash
  expect(await tryPublish('home/door', Buffer.from('{}'))).toBe('refused');
});

it('refuses retained requests and oversized payloads, but passes a slightly oversized request', async () => {
  expect(await tryPublish('threshold/v1/requests/u09t', Buffer.from('{}'), true)).toBe('refused');
  expect(await tryPublish('threshold/v1/requests/u09t', Buffer.alloc(17 * 1024))).toBe('accepted');
  expect(await tryPublish('threshold/v1/requests/u09t', Buffer.alloc(65 * 1024))).toBe('refused');
});

it('refuses to start on a port that is taken', async () => {
  const second = new EmbeddedBroker({ port: broker.port, log });
  await expect(second.start(new AbortController().signal)).rejects.toMatchObject({
    code: 'mqtt_embedded_listen',
  });
});
