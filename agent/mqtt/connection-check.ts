import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import mqtt, { type IClientOptions } from 'mqtt';
import { ThresholdError } from '../errors.js';
import { redactCredentials } from '../log.js';

/**
 * Checks that the broker takes a connection as the agent will make it: the same URL, TLS
 * CA, user name and password. For provisioning and `threshold doctor`; the agent itself
 * connects through `client.ts`.
 *
 * It connects, waits for CONNACK and disconnects: no subscription, no publication. It uses
 * a random client id with a clean start and no session expiry (MQTT 5 §3.1.2.4,
 * §3.1.2.11.2), so it neither takes over the agent's persistent session (same id would
 * disconnect the running agent, MQTT 5 §3.1.4-3) nor leaves a session on the broker.
 */

export type BrokerCheckCode =
  | 'broker_unreachable'
  | 'broker_tls'
  | 'broker_auth'
  | 'broker_timeout'
  | 'broker_refused'
  | 'broker_ca';

export class BrokerCheckError extends ThresholdError {
  declare readonly code: BrokerCheckCode;
  constructor(code: BrokerCheckCode, message: string) {
    super(code, message);
  }
}

export interface BrokerCheckOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM file of the CA that signs the broker's certificate. */
  readonly caFile?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface BrokerCheckResult {
  readonly protocolVersion: 4 | 5;
  readonly tls: boolean;
}

/** Resolves once the broker accepted the connection; rejects with a BrokerCheckError. */
export async function checkBrokerConnection(
  options: BrokerCheckOptions,
): Promise<BrokerCheckResult> {
  let ca: Buffer | undefined;
  if (options.caFile) {
    try {
      ca = await readFile(options.caFile);
    } catch {
      throw new BrokerCheckError('broker_ca', `cannot read the CA file ${options.caFile}`);
    }
  }
  const tls = /^(mqtts|wss):/i.test(options.url);
  try {
    return { protocolVersion: 5, tls, ...(await attempt(options, ca, 5)) };
  } catch (err) {
    // A 3.1.1-only broker refuses a v5 CONNECT: 3.1.1 return code 1, or MQTT 5 reason 132.
    const code = (err as { mqttCode?: unknown }).mqttCode;
    if (code !== 1 && code !== 132) throw toCheckError(err, options);
  }
  try {
    await attempt(options, ca, 4);
    return { protocolVersion: 4, tls };
  } catch (err) {
    throw toCheckError(err, options);
  }
}

function attempt(
  options: BrokerCheckOptions,
  ca: Buffer | undefined,
  version: 4 | 5,
): Promise<object> {
  options.signal?.throwIfAborted();
  const clientOptions: IClientOptions = {
    clientId: `threshold-check-${randomBytes(8).toString('hex')}`,
    protocolVersion: version,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: options.timeoutMs,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(ca ? { ca, rejectUnauthorized: true } : {}),
    ...(version === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
  };
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(options.url, clientOptions);
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      client.end(true);
      outcome();
    };
    // connectTimeout covers the wait for CONNACK; this also covers DNS and TLS.
    const timer = setTimeout(
      () => finish(() => reject(Object.assign(new Error('timed out'), { timedOut: true }))),
      options.timeoutMs + 1000,
    );
    const onAbort = () => finish(() => reject(options.signal?.reason));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('connect', () => finish(() => resolve({})));
    client.once('error', (err: Error & { code?: unknown }) =>
      finish(() => reject(Object.assign(err, { mqttCode: err.code }))),
    );
    client.once('close', () =>
      finish(() => reject(new Error('the broker closed the connection before accepting it'))),
    );
  });
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME|ALTNAME/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);

/** Names the problem and what to check, in words that hold no credential. */
function toCheckError(err: unknown, options: BrokerCheckOptions): BrokerCheckError {
  if (err instanceof BrokerCheckError) return err;
  const e = err as Error & { code?: unknown; mqttCode?: unknown; timedOut?: boolean };
  const where = redactCredentials(options.url);
  const code = e.mqttCode ?? e.code;
  if (e.timedOut) {
    return new BrokerCheckError('broker_timeout', `the broker at ${where} did not answer in time`);
  }
  // Bad user name or password: 3.1.1 return codes 4 and 5, MQTT 5 reason codes 134, 135.
  if (code === 4 || code === 5 || code === 134 || code === 135) {
    return new BrokerCheckError(
      'broker_auth',
      `the broker at ${where} refused the user name or password`,
    );
  }
  if (typeof code === 'string' && TLS_CODES.test(code)) {
    return new BrokerCheckError(
      'broker_tls',
      `TLS with the broker at ${where} failed (${code}): check the CA file and that the URL's host name is in the broker's certificate`,
    );
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return new BrokerCheckError(
      'broker_unreachable',
      `cannot reach the broker at ${where} (${code})`,
    );
  }
  if (typeof code === 'number') {
    return new BrokerCheckError(
      'broker_refused',
      `the broker at ${where} refused the connection (code ${code})`,
    );
  }
  return new BrokerCheckError(
    'broker_unreachable',
    `cannot connect to the broker at ${where}: ${redactCredentials(e.message ?? String(err))}`,
  );
}
