import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { ThresholdError } from '../errors.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import {
  MAX_REVOCATION_BYTES,
  REQUEST_TOPIC_PREFIX,
  REVOCATION_TOPIC,
  TOPIC_GEOHASH_LENGTH,
} from '../requests/protocol.js';

/**
 * `mqtt.url: "embedded"`: an aedes broker inside the agent, on loopback only, for demos
 * and single-machine setups (the agency tools publish to it). aedes speaks MQTT 3.1.1,
 * so the agent's own client connects to it with protocol version 4.
 *
 * It carries the request protocol's topics and nothing else: a PUBLISH elsewhere, a
 * retained request, or a payload over the bounds below is refused (the publisher is
 * disconnected, as MQTT 3.1.1 has no negative PUBACK).
 */

export const DEFAULT_EMBEDDED_PORT = 1883;

export interface EmbeddedBrokerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one (see `port` after start). */
  port?: number;
  log: Logger;
}

/** Above the 16 KiB envelope limit, so an oversized request reaches intake and is audited. */
const MAX_REQUEST_PAYLOAD = 64 * 1024;
/** A revocation list may be larger. */
const MAX_REVOCATION_PAYLOAD = MAX_REVOCATION_BYTES;
// The prefix holds only letters, digits and slashes: nothing to escape.
const REQUEST_TOPIC = new RegExp(
  `^${REQUEST_TOPIC_PREFIX}[0-9b-hjkmnp-z]{${TOPIC_GEOHASH_LENGTH}}$`,
);

export class EmbeddedBroker implements Service {
  readonly name = 'mqtt-embedded-broker';
  #aedes: Aedes | undefined;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #port = 0;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  /** The port it listens on (valid after `start`). */
  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.#port}`;
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const log = this.options.log;
    const aedes = await Aedes.createBroker({
      authorizePublish: (_client, packet, callback) => {
        callback(publishProblem(packet));
      },
      // The device subscribes only to protocol topics; nobody needs `#` on this broker.
      authorizeSubscribe: (_client, subscription, callback) => {
        const allowed =
          subscription.topic.startsWith(REQUEST_TOPIC_PREFIX) ||
          subscription.topic === REVOCATION_TOPIC;
        callback(allowed ? null : new Error('topic not allowed'), allowed ? subscription : null);
      },
    });
    aedes.on('clientError', (client: Client, err: Error) => {
      log.debug({ client: client.id, err: err.message }, 'embedded broker: client error');
    });
    this.#aedes = aedes;
    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      aedes.handle(socket);
    });
    this.#server = server;
    server.listen(this.options.port ?? DEFAULT_EMBEDDED_PORT, '127.0.0.1');
    try {
      await Promise.race([
        once(server, 'listening'),
        once(server, 'error').then(([err]) => {
          throw err;
        }),
      ]);
    } catch (err) {
      await this.stop();
      throw new ThresholdError(
        'mqtt_embedded_listen',
        `the embedded MQTT broker cannot listen on 127.0.0.1:${this.options.port ?? DEFAULT_EMBEDDED_PORT}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const address = server.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
    log.info({ port: this.#port }, 'embedded MQTT broker listening on loopback');
  }

  async stop(): Promise<void> {
    const server = this.#server;
    const aedes = this.#aedes;
    this.#server = undefined;
    this.#aedes = undefined;
    if (server?.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    }
    if (aedes && !aedes.closed) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}

/** Why a PUBLISH is refused, or null. Exported for tests. */
export function publishProblem(packet: PublishPacket): Error | null {
  const isRequest = REQUEST_TOPIC.test(packet.topic);
  if (!isRequest && packet.topic !== REVOCATION_TOPIC) return new Error('topic not allowed');
  // Requests are never retained (protocol v1): a retained one would reach every future
  // subscriber long after the agency meant it to.
  if (isRequest && packet.retain) return new Error('requests are never retained');
  const bytes =
    typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
  if (bytes > (isRequest ? MAX_REQUEST_PAYLOAD : MAX_REVOCATION_PAYLOAD)) {
    return new Error('payload too large');
  }
  return null;
}
