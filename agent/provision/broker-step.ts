import type { Config } from '../config/schema.js';
import { ThresholdError, UserError } from '../errors.js';
import type { BrokerCheckOptions, BrokerCheckResult } from '../mqtt/connection-check.js';
import type { AnswerSource } from './answers.js';
import { mqttCa, mqttPassword, mqttUrl, mqttUser, trustRoots, trustThreshold } from './fields.js';

/**
 * The broker that brings community requests, tested by connecting to it as the agent
 * will; then the trust roots that decide which agencies may ask.
 */

export type MqttConfig = NonNullable<Config['mqtt']>;
export type TrustConfig = NonNullable<Config['trust']>;

export interface BrokerStepDeps {
  readonly checkBroker: (options: BrokerCheckOptions) => Promise<BrokerCheckResult>;
}

/** Which flags to check for each way the connection can fail. */
const FLAGS_FOR: Record<string, string> = {
  broker_auth: '--mqtt-user and --mqtt-password',
  broker_tls: '--mqtt-ca and the host in --mqtt-url',
  broker_ca: '--mqtt-ca',
};

/** The `mqtt` config, or undefined for a device without community requests. */
export async function brokerStep(
  deps: BrokerStepDeps,
  source: AnswerSource,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<MqttConfig | undefined> {
  let url = await source.get(mqttUrl);
  if (url === null) {
    source.say('No broker: the device records, and takes no community requests.');
    return undefined;
  }
  if (url === 'embedded') return { url };
  let username = await source.get(mqttUser);
  let password = username === undefined ? undefined : await source.get(mqttPassword);
  let ca = await source.get(mqttCa);
  for (;;) {
    const mqtt: MqttConfig = {
      url,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(ca !== undefined ? { ca } : {}),
    };
    try {
      source.say('Connecting to the broker …');
      const result = await deps.checkBroker({
        url,
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(ca !== undefined ? { caFile: ca } : {}),
        timeoutMs: options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      source.say(
        `  the broker accepted the connection (${result.tls ? 'TLS' : 'no TLS'}, MQTT ${result.protocolVersion === 5 ? '5' : '3.1.1'})`,
      );
      if (!result.tls && !isLoopbackUrl(url)) {
        source.say(
          '  ! Warning: without TLS (mqtt://) the password and the requests cross the network in clear; use mqtts://.',
        );
      }
      return mqtt;
    } catch (err) {
      if (!(err instanceof ThresholdError) || !err.code.startsWith('broker_')) throw err;
      if (!source.interactive) {
        throw new UserError(
          err.code,
          `${err.message}: check ${FLAGS_FOR[err.code] ?? '--mqtt-url'}`,
        );
      }
      if (err.code === 'broker_auth') {
        username = await source.again(mqttUser, err.message);
        password = username === undefined ? undefined : await source.ask(mqttPassword);
      } else if (err.code === 'broker_tls' || err.code === 'broker_ca') {
        ca = await source.again(mqttCa, err.message);
      } else {
        const next = await source.again(mqttUrl, err.message);
        if (next === null) return undefined;
        if (next === 'embedded') return { url: next };
        url = next;
      }
    }
  }
}

function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}

export async function trustStep(source: AnswerSource): Promise<TrustConfig> {
  const roots = await source.get(trustRoots);
  source.say(
    `  ${roots.length} trust root${roots.length === 1 ? '' : 's'}: ${roots.map((r) => r.name).join(', ')}`,
  );
  const threshold = await source.get(trustThreshold(roots.length));
  return { roots, threshold };
}
