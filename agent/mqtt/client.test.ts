import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, Mosquitto } from '../test-support/mosquitto.js';
import { waitFor } from '../test-support/poll.js';
import { type ConnectionStatus, type InboundMessage, MqttSubscriber } from './client.js';
import { randomClientId } from './client-state.js';
import { EmbeddedBroker } from './embedded-broker.js';

const log = pino({ level: 'silent' });
const TOPIC = 'threshold/v1/requests/u33d';

/** Polls `check` every 10 ms until it holds (the suite's only way of waiting). */
const until = (what: string, check: () => boolean, timeoutMs = 5000) =>
  waitFor(check, { what, timeoutMs, intervalMs: 10 });

async function publish(url: string, messages: string[], topic = TOPIC): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  for (const message of messages) await client.publishAsync(topic, message, { qos: 1 });
  await client.endAsync();
}

interface Harness {
  subscriber: MqttSubscriber;
  received: InboundMessage[];
  statuses: ConnectionStatus[];
  controller: AbortController;
}

function subscriber(
  url: string,
  clientId: string,
  handler?: (message: InboundMessage) => Promise<void>,
  extra: Partial<ConstructorParameters<typeof MqttSubscriber>[0]> = {},
): Harness {
  const received: InboundMessage[] = [];
  const statuses: ConnectionStatus[] = [];
  const sub = new MqttSubscriber({
    url,
    clientId,
    topics: [TOPIC],
    log,
    backoff: { baseMs: 50, maxMs: 200 },
    handler: async (message) => {
      await handler?.(message);
      received.push(message);
    },
    onStatus: (status) => statuses.push(status),
    ...extra,
  });
  return { subscriber: sub, received, statuses, controller: new AbortController() };
}

describe('MqttSubscriber against Mosquitto', () => {
  let broker: Mosquitto;
  const running: Harness[] = [];

  beforeEach(async () => {
    broker = await Mosquitto.start({ persistence: true });
  });
  afterEach(async () => {
    for (const harness of running.splice(0)) await harness.subscriber.stop();
    await broker.stop();
  });

  async function startReady(harness: Harness): Promise<Harness> {
    running.push(harness);
    await harness.subscriber.start(harness.controller.signal);
    await until('ready', () => harness.subscriber.status().state === 'ready');
    return harness;
  }

  it('connects with MQTT 5, clean start off, and handles messages one at a time in order', async () => {
    let active = 0;
    let maxActive = 0;
    const id = randomClientId();
    const harness = await startReady(
      subscriber(broker.url, id, async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, 2));
        active--;
      }),
    );
    const sent = Array.from({ length: 30 }, (_, i) => `m${i}`);
    await publish(broker.url, sent);
    await until('all messages', () => harness.received.length === sent.length);
    expect(harness.received.map((m) => m.payload.toString())).toEqual(sent);
    expect(maxActive).toBe(1);
    expect(broker.logText()).toContain(`as ${id} (p5, c0,`);
    // The device sent no PUBLISH at all.
    expect(broker.publishes().filter((entry) => entry.clientId === id)).toEqual([]);
    expect('publish' in harness.subscriber).toBe(false);
  });

  it('acknowledges only after the handler resolves: a failed message is redelivered', async () => {
    let failures = 0;
    const harness = await startReady(
      subscriber(broker.url, randomClientId(), async (message) => {
        if (message.payload.toString() === 'b' && failures === 0) {
          failures++;
          throw new Error('disk full');
        }
      }),
    );
    await publish(broker.url, ['a', 'b', 'c']);
    await until('redelivery', () => harness.received.length === 3);
    expect(failures).toBe(1);
    expect(harness.received.map((m) => m.payload.toString())).toEqual(['a', 'b', 'c']);
    expect(harness.received[1]?.duplicate).toBe(true);
  });

  it('gets messages published while it was away (persistent session)', async () => {
    const id = randomClientId();
    const first = await startReady(subscriber(broker.url, id));
    await first.subscriber.stop();
    await publish(broker.url, ['while-away-1', 'while-away-2']);
    const second = await startReady(subscriber(broker.url, id));
    await until('queued messages', () => second.received.length === 2);
    expect(second.received.map((m) => m.payload.toString())).toEqual([
      'while-away-1',
      'while-away-2',
    ]);
    expect(second.statuses.some((s) => s.state === 'connected' && s.sessionPresent)).toBe(true);
  });

  it('keeps retrying while the broker is down and resumes the session when it is back', async () => {
    const id = randomClientId();
    const harness = await startReady(subscriber(broker.url, id));
    await broker.restart(); // SIGTERM saves the session; the client sees the connection drop
    await until(
      'reconnected',
      () => harness.statuses.filter((s) => s.state === 'ready').length >= 2,
    );
    expect(harness.statuses.some((s) => s.state === 'disconnected')).toBe(true);
    await publish(broker.url, ['after-restart']);
    await until('message', () => harness.received.length === 1);
    expect(harness.received[0]?.payload.toString()).toBe('after-restart');
  });

  it('unsubscribes topics a previous run wanted and this one does not', async () => {
    const id = randomClientId();
    const old = 'threshold/v1/requests/u33e';
    const first = await startReady(subscriber(broker.url, id, undefined, { topics: [TOPIC, old] }));
    await first.subscriber.stop();
    const second = await startReady(
      subscriber(broker.url, id, undefined, { staleTopics: [TOPIC, old] }),
    );
    await publish(broker.url, ['old-cell'], old);
    await publish(broker.url, ['kept-cell'], TOPIC);
    await until('kept-cell message', () => second.received.length >= 1);
    expect(second.received.map((m) => m.payload.toString())).toEqual(['kept-cell']);
  });
});

describe('MqttSubscriber with no broker and with the embedded broker', () => {
  it('retries with backoff against a closed port without throwing, and stops cleanly', async () => {
    const port = await freePort();
    const harness = subscriber(`mqtt://127.0.0.1:${port}`, randomClientId());
    await harness.subscriber.start(harness.controller.signal);
    await until(
      'three failed attempts',
      () => harness.statuses.filter((s) => s.state === 'connecting').length >= 3,
    );
    expect(harness.statuses.some((s) => s.state === 'ready')).toBe(false);
    harness.controller.abort();
    await until('stopped', () => harness.subscriber.status().state === 'stopped');
  });

  it('falls back to MQTT 3.1.1 against aedes and receives in order', async () => {
    const broker = new EmbeddedBroker({ port: 0, log });
    await broker.start(new AbortController().signal);
    const harness = subscriber(broker.url, randomClientId());
    try {
      await harness.subscriber.start(harness.controller.signal);
      await until('ready', () => harness.subscriber.status().state === 'ready');
      expect(harness.subscriber.status().protocolVersion).toBe(4);
      await publish(broker.url, ['x', 'y']);
      await until('messages', () => harness.received.length === 2);
      expect(harness.received.map((m) => m.payload.toString())).toEqual(['x', 'y']);
    } finally {
      await harness.subscriber.stop();
      await broker.stop();
    }
  });
});

describe('MqttSubscriber over TLS with credentials (Mosquitto)', () => {
  let dir: string;
  let broker: Mosquitto;
  const harnesses: Harness[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'threshold-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    // A self-signed certificate for 127.0.0.1 serves as its own CA.
    // biome-ignore format: openssl flags read best in pairs
    run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    const passwords = join(dir, 'passwords');
    run('mosquitto_passwd', ['-b', '-c', passwords, 'doorbell', 'correct horse']);
    broker = await Mosquitto.start({
      tls: { certFile: cert, keyFile: key },
      passwordFile: passwords,
    });
  });
  afterEach(async () => {
    for (const harness of harnesses.splice(0)) await harness.subscriber.stop();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function tlsSubscriber(extra: Partial<ConstructorParameters<typeof MqttSubscriber>[0]>): Harness {
    const harness = subscriber(broker.url, randomClientId(), undefined, extra);
    harnesses.push(harness);
    return harness;
  }

  it('connects with the CA file and the right password, and receives', async () => {
    const harness = tlsSubscriber({
      caFile: join(dir, 'cert.pem'),
      username: 'doorbell',
      password: 'correct horse',
    });
    await harness.subscriber.start(harness.controller.signal);
    await until('ready', () => harness.subscriber.status().state === 'ready');
    const publisher = await mqtt.connectAsync(broker.url, {
      ca: readFileSync(join(dir, 'cert.pem')),
      username: 'doorbell',
      password: 'correct horse',
      reconnectPeriod: 0,
    });
    await publisher.publishAsync(TOPIC, 'over tls', { qos: 1 });
    await publisher.endAsync();
    await until('message', () => harness.received.length === 1);
    expect(harness.received[0]?.payload.toString()).toBe('over tls');
  });

  it('does not connect with a wrong password or without the CA', async () => {
    const wrong = tlsSubscriber({
      caFile: join(dir, 'cert.pem'),
      username: 'doorbell',
      password: 'nope',
    });
    const noCa = tlsSubscriber({ username: 'doorbell', password: 'correct horse' });
    await wrong.subscriber.start(wrong.controller.signal);
    await noCa.subscriber.start(noCa.controller.signal);
    await until('refusals', () =>
      [wrong, noCa].every((h) => h.statuses.filter((s) => s.state === 'disconnected').length >= 2),
    );
    for (const harness of [wrong, noCa]) {
      expect(harness.statuses.some((s) => s.state === 'connected' || s.state === 'ready')).toBe(
        false,
      );
    }
    expect(wrong.statuses.some((s) => /not authori[sz]ed|bad user/i.test(s.error ?? ''))).toBe(
      true,
    );
    expect(noCa.statuses.some((s) => /certificate/i.test(s.error ?? ''))).toBe(true);
  });
});

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr?.toString()}`);
}
