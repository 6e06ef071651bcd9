import { readFile } from 'node:fs/promises';
import mqtt, { type IClientOptions } from 'mqtt';
import { UserError } from '../../agent/errors.js';
import { redactUrl } from '../../agent/log.js';
import { systemErrorText } from '../../agent/system-error.js';

/**
 * The agency side's publisher (the device has no such thing). It speaks MQTT 3.1.1, which
 * every broker accepts, including the agent's embedded aedes; nothing it sends needs
 * MQTT 5. A fresh random client id and a clean session each time: publishing leaves no
 * session behind on the broker.
 */

export interface PublishOptions {
  url: string;
  /** PEM CA file for mqtts:// brokers with a private CA. */
  caFile?: string;
  timeoutMs?: number;
}

export interface OutgoingMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** Publishes each message at QoS 1 and resolves once the broker acknowledged all of them. */
export async function publishAll(
  options: PublishOptions,
  messages: readonly OutgoingMessage[],
): Promise<void> {
  const clientOptions: IClientOptions = {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: options.timeoutMs ?? 10_000,
  };
  if (options.caFile) {
    try {
      clientOptions.ca = await readFile(options.caFile);
    } catch (err) {
      throw new UserError(
        'bad_flag',
        `--ca: cannot read ${options.caFile} (${systemErrorText(err)})`,
      );
    }
  }
  let client: mqtt.MqttClient;
  try {
    client = await mqtt.connectAsync(options.url, clientOptions);
  } catch (err) {
    throw new UserError(
      'publish_failed',
      `--publish: cannot connect to ${redactUrl(options.url)}: ${(err as Error).message}`,
    );
  }
  // A broker that refuses a PUBLISH under MQTT 3.1.1 closes the connection, and mqtt.js
  // then keeps the message for a reconnect that never comes: treat the close as failure.
  const closed = new Promise<never>((_, reject) => {
    client.once('close', () => reject(new Error('the broker closed the connection')));
  });
  closed.catch(() => undefined);
  try {
    await Promise.race([
      Promise.all(
        messages.map((message) =>
          client.publishAsync(message.topic, message.payload, { qos: 1, retain: message.retain }),
        ),
      ),
      closed,
    ]);
  } catch (err) {
    throw new UserError(
      'publish_failed',
      `--publish: the broker did not accept the message: ${(err as Error).message}`,
    );
  } finally {
    await client.endAsync(!client.connected);
  }
}
