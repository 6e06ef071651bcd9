import { readFile } from 'node:fs/promises';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { backoffMs, type Service } from '../lifecycle.js';
import { type Logger, redactUrl } from '../log.js';

/**
 * The device's MQTT connection: the one file that touches mqtt.js. It *subscribes* and
 * nothing else — there is deliberately no publish method (promise 2: the device never
 * publishes, acknowledges or "reads" on a request topic). MQTT-level PUBACKs go to the
 * broker only and are part of QoS 1 delivery, not a reply to the requester.
 *
 * INVARIANTS:
 * - Messages are handled one at a time, in arrival order: mqtt.js parses packets into a
 *   queue and takes the next only after `handleMessage` calls back.
 * - The PUBACK of a QoS 1 message is sent only after the handler resolved, i.e. once the
 *   intake has recorded its outcome as durably as it promises (see `Intake`). A crash
 *   before that makes the broker redeliver (MQTT 5 §4.4, 3.1.1 §4.4); the intake makes
 *   redelivery idempotent. PUBACKs go out in arrival order (MQTT 5 §4.6, 3.1.1 §4.6): one
 *   stream, written in handling order; those of one event-loop turn share a socket write.
 * - After a handler fails, later messages on the same connection are not handled (and not
 *   acknowledged); the connection is dropped and the broker redelivers them in order.
 * - One mqtt.js client per connection attempt; a stale client's callbacks are ignored.
 */

/** Seven days: queued requests survive a week offline (MQTT 5 §3.1.2.11.2). */
export const SESSION_EXPIRY_SECONDS = 7 * 24 * 3600;
/**
 * The largest packet the broker may send us (MQTT 5 §3.1.2.11.4): the protocol's 16 KiB
 * envelope plus room for the fixed header, topic and properties, so that every valid
 * envelope can be delivered. Larger packets are dropped by the broker, never sent.
 */
export const MAX_PACKET_BYTES = 16 * 1024 + 512;
/** Unacknowledged QoS 1 messages the broker may have in flight to us (§3.1.2.11.3). */
export const RECEIVE_MAXIMUM = 8;

export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retained: boolean;
  /** The broker's DUP flag: it may have delivered this before. */
  readonly duplicate: boolean;
}

/** Where the connection is; `ready` means connected and subscribed. */
export type ConnectionState = 'connecting' | 'connected' | 'ready' | 'disconnected' | 'stopped';

export interface ConnectionStatus {
  readonly state: ConnectionState;
  readonly protocolVersion: 4 | 5;
  readonly sessionPresent?: boolean;
  readonly error?: string;
}

export interface SubscriberOptions {
  /** mqtt://, mqtts://, ws:// or wss:// (credentials come separately). */
  readonly url: string;
  readonly clientId: string;
  /** Subscribed at QoS 1 after every connect. */
  readonly topics: readonly string[];
  /** Topics a previous run subscribed that are no longer wanted. */
  readonly staleTopics?: readonly string[];
  /** Resolves once the message is durably handled; a rejection drops the connection. */
  readonly handler: (message: InboundMessage) => Promise<void>;
  /** Already named by the caller (e.g. `component: 'mqtt'`). */
  readonly log: Logger;
  readonly username?: string;
  readonly password?: string;
  /** Path to a PEM CA file; read at each connection attempt. */
  readonly caFile?: string;
  /** 5 by default; 4 for MQTT 3.1.1 brokers (a v5 refusal also falls back to 4). */
  readonly protocolVersion?: 4 | 5;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly keepaliveSeconds?: number;
  readonly connectTimeoutMs?: number;
  readonly onStatus?: (status: ConnectionStatus) => void;
  /** Called after a SUBACK for `topics`, e.g. to record them as the session's topics. */
  readonly onSubscribed?: (topics: readonly string[]) => Promise<void>;
}

export class MqttSubscriber implements Service {
  readonly name = 'mqtt-subscriber';
  #client: MqttClient | undefined;
  #failedClient: MqttClient | undefined;
  #protocolVersion: 4 | 5;
  #attempt = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #handling: Promise<void> = Promise.resolve();
  /** The stream whose writes are held until the end of this event-loop turn, if any. */
  #corked: MqttClient['stream'] | undefined;
  #status: ConnectionStatus;
  readonly #log: Logger;

  constructor(private readonly options: SubscriberOptions) {
    this.#protocolVersion = options.protocolVersion ?? 5;
    this.#status = { state: 'disconnected', protocolVersion: this.#protocolVersion };
    this.#log = options.log;
  }

  status(): ConnectionStatus {
    return this.#status;
  }

  /** Starts connecting and returns at once: a broker that is down is retried forever. */
  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    signal.addEventListener(
      'abort',
      () => {
        this.stop().catch((err: unknown) => this.#log.error({ err }, 'stopping failed'));
      },
      { once: true },
    );
    await this.#connect();
  }

  /** Lets the message being handled finish (so it is acknowledged), then disconnects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#handling;
    this.#releaseWrites();
    const client = this.#client;
    this.#client = undefined;
    if (client) await endClient(client, !client.connected);
    this.#setStatus({ state: 'stopped' });
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const { options } = this;
    this.#setStatus({ state: 'connecting' });
    let ca: Buffer | undefined;
    try {
      ca = options.caFile ? await readFile(options.caFile) : undefined;
    } catch (err) {
      this.#retry(`cannot read the CA file: ${(err as Error).message}`);
      return;
    }
    if (this.#stopped) return;
    const v5 = this.#protocolVersion === 5;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: this.#protocolVersion,
      clean: false,
      // We reconnect ourselves, with backoff and a fresh client (see `#retry`).
      reconnectPeriod: 0,
      resubscribe: false,
      keepalive: options.keepaliveSeconds ?? 60,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(ca ? { ca, rejectUnauthorized: true } : {}),
      ...(v5
        ? {
            properties: {
              sessionExpiryInterval: SESSION_EXPIRY_SECONDS,
              receiveMaximum: RECEIVE_MAXIMUM,
              maximumPacketSize: MAX_PACKET_BYTES,
              // No problem information in CONNACK/DISCONNECT reason strings we never read.
              requestProblemInformation: false,
            },
          }
        : {}),
    };
    const client = mqtt.connect(options.url, clientOptions);
    this.#client = client;
    client.handleMessage = (packet, done) => this.#onMessage(client, packet, done);
    client.on('connect', (connack) => {
      if (this.#client !== client) return;
      this.#attempt = 0;
      const sessionPresent = connack.sessionPresent;
      this.#setStatus({ state: 'connected', sessionPresent });
      this.#log.info(
        { url: redactUrl(options.url), sessionPresent, protocolVersion: this.#protocolVersion },
        'connected to the MQTT broker',
      );
      this.#subscribe(client, sessionPresent).catch((err: unknown) => {
        this.#log.warn({ err: (err as Error).message }, 'subscribing failed; reconnecting');
        client.end(true);
      });
    });
    client.on('error', (err: Error & { code?: unknown }) => {
      if (this.#client !== client) return;
      // A 3.1.1-only broker refuses a v5 CONNECT with "unacceptable protocol version"
      // (3.1.1 return code 1, or MQTT 5 reason code 132).
      if (this.#protocolVersion === 5 && (err.code === 1 || err.code === 132)) {
        this.#log.warn('the broker does not speak MQTT 5; falling back to MQTT 3.1.1');
        this.#protocolVersion = 4;
        this.#attempt = 0;
      }
      this.#setStatus({ state: this.#status.state, error: err.message });
    });
    client.on('disconnect', (packet) => {
      this.#log.warn({ reasonCode: packet.reasonCode }, 'the broker sent DISCONNECT');
    });
    client.on('close', () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      client.end(true);
      this.#retry(this.#status.error ?? 'connection closed');
    });
  }

  /** Subscribes (QoS 1) on every connect, which also restores a session the broker lost. */
  async #subscribe(client: MqttClient, sessionPresent: boolean): Promise<void> {
    const { topics, staleTopics = [] } = this.options;
    const stale = staleTopics.filter((topic) => !topics.includes(topic));
    if (sessionPresent && stale.length > 0) await client.unsubscribeAsync(stale);
    const map: Record<string, { qos: 1; rh?: number }> = {};
    // Retain Handling 1 (MQTT 5 §3.8.3.1): retained messages (the revocation list) only
    // when the subscription is new, not again on every reconnect.
    for (const topic of topics)
      map[topic] = this.#protocolVersion === 5 ? { qos: 1, rh: 1 } : { qos: 1 };
    const granted = await client.subscribeAsync(map);
    const refused = granted.filter((grant) => grant.qos === 128).map((grant) => grant.topic);
    if (refused.length > 0) this.#log.error({ refused }, 'the broker refused subscriptions');
    if (this.#client !== client) return;
    await this.options.onSubscribed?.(topics);
    this.#setStatus({ state: 'ready' });
  }

  #onMessage(client: MqttClient, packet: IPublishPacket, done: (error?: Error) => void): void {
    if (this.#client !== client || this.#failedClient === client || this.#stopped) {
      // Unacknowledged on purpose: the broker redelivers it on the next connection.
      done(new Error('connection abandoned'));
      return;
    }
    const message: InboundMessage = {
      topic: packet.topic,
      payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
      retained: packet.retain,
      duplicate: packet.dup,
    };
    this.#holdWrites(client);
    this.#handling = Promise.resolve()
      .then(() => this.options.handler(message))
      .then(
        () => done(),
        (err: unknown) => {
          this.#log.error({ err: (err as Error).message, topic: packet.topic }, 'handling failed');
          this.#failedClient = client;
          // The PUBACKs of the messages before this one go out before the connection ends.
          this.#releaseWrites();
          done(err as Error);
          client.end(true);
        },
      );
  }

  /**
   * Holds the connection's writes until the end of this event-loop turn (`setImmediate`
   * runs after the I/O callbacks of the turn), so the PUBACKs of the messages that one
   * socket read delivered leave in one write instead of a system call each. Order is kept:
   * corking only buffers. mqtt.js corks each packet itself and uncorks on the next tick;
   * corks nest, so ours decides when the buffer is written.
   */
  #holdWrites(client: MqttClient): void {
    const stream = client.stream;
    if (this.#corked === stream || typeof stream?.cork !== 'function') return;
    this.#releaseWrites();
    this.#corked = stream;
    stream.cork();
    setImmediate(() => {
      if (this.#corked === stream) this.#releaseWrites();
    });
  }

  /** Writes what `#holdWrites` held; before a connection is ended, so no PUBACK is lost. */
  #releaseWrites(): void {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  }

  #retry(reason: string): void {
    this.#setStatus({ state: 'disconnected', error: reason });
    if (this.#stopped) return;
    const wait = backoffMs(
      this.#attempt++,
      this.options.backoff?.baseMs ?? 1000,
      this.options.backoff?.maxMs ?? 60_000,
    );
    this.#log.warn({ reason, retryInMs: wait }, 'MQTT broker unavailable');
    this.#timer = setTimeout(() => {
      this.#connect().catch((err: unknown) => this.#retry((err as Error).message));
    }, wait);
  }

  #setStatus(change: Omit<ConnectionStatus, 'protocolVersion'>): void {
    this.#status = { ...change, protocolVersion: this.#protocolVersion };
    this.options.onStatus?.(this.#status);
  }
}

/** Ends a client; a forced end of a dead stream never calls back, so do not wait long. */
async function endClient(client: MqttClient, force: boolean): Promise<void> {
  await Promise.race([
    client.endAsync(force).catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 2000).unref()),
  ]);
}
