import type { Config } from '../../config/schema.js';
import { ThresholdError } from '../../errors.js';
import type { BrokerCheckOptions, BrokerCheckResult } from '../../mqtt/connection-check.js';
import type { Check } from '../check.js';
import { isLoopback } from './ui.js';

/**
 * The broker takes the agent's connection as configured: reachable, TLS with the
 * configured CA, the user name and password accepted. It connects and disconnects only.
 */
export function brokerCheck(
  mqtt: Config['mqtt'],
  deps: {
    checkBroker: (options: BrokerCheckOptions) => Promise<BrokerCheckResult>;
    timeoutMs: number;
  },
): Check {
  return {
    id: 'broker',
    title: 'MQTT broker',
    run: async (signal) => {
      if (!mqtt) {
        return {
          status: 'skip',
          detail: 'no broker configured: the device takes no community requests',
        };
      }
      if (mqtt.url === 'embedded') {
        return { status: 'ok', detail: 'the embedded broker runs inside the agent, on loopback' };
      }
      let result: BrokerCheckResult;
      try {
        result = await deps.checkBroker({
          url: mqtt.url,
          ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
          ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
          ...(mqtt.ca !== undefined ? { caFile: mqtt.ca } : {}),
          timeoutMs: deps.timeoutMs,
          signal,
        });
      } catch (err) {
        if (!(err instanceof ThresholdError)) throw err;
        return { status: 'fail', detail: err.message, fix: fixFor(err.code) };
      }
      const how = `${result.tls ? 'TLS' : 'no TLS'}, MQTT ${result.protocolVersion === 5 ? '5' : '3.1.1'}${mqtt.username ? `, as ${mqtt.username}` : ''}`;
      if (!result.tls && !isLoopback(hostOf(mqtt.url))) {
        return {
          status: 'warn',
          detail: `the broker accepted the connection (${how}): requests and the password cross the network in clear`,
          fix: 'use an mqtts:// URL (and mqtt.ca for a private CA)',
        };
      }
      return { status: 'ok', detail: `the broker accepted the connection (${how})` };
    },
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

function fixFor(code: string): string {
  switch (code) {
    case 'broker_auth':
      return 'set mqtt.username and mqtt.password to an account the broker accepts';
    case 'broker_tls':
      return 'set mqtt.ca to the PEM file of the CA that signed the broker’s certificate, and use the host name in that certificate';
    case 'broker_ca':
      return 'make mqtt.ca a readable PEM file';
    default:
      return 'check mqtt.url, that the broker runs, and that the network lets this device reach it';
  }
}
