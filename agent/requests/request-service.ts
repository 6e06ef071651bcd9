import type { Clock } from '../../hal/interfaces.js';
import { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import { backoffMs, delay, type Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import { type InboundMessage, MqttSubscriber } from '../mqtt/client.js';
import { loadClientState, saveClientState } from '../mqtt/client-state.js';
import { DEFAULT_EMBEDDED_PORT, EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { subscriptionTopics } from './build.js';
import { ClockFloor } from './clock-floor.js';
import type { FootageIndex } from './footage.js';
import { Intake, type IntakeResult } from './intake.js';
import { REQUEST_TOPIC_PREFIX, REVOCATION_TOPIC } from './protocol.js';
import { RequestStore } from './store.js';
import { TrustState } from './trust.js';

/**
 * Community requests on the device: MQTT in, intake, request store, expiry. It only
 * listens (the MQTT client has no publish), and it never stops the agent: a broker that
 * is down is retried with backoff, a failing step is logged and retried, and the
 * recorder, which shares nothing with this service but the database, goes on.
 *
 * Start-up order: the time floor, the revocation list in force and the pins of pending
 * requests are restored before the first message is taken, so a crash between accepting
 * a request and pinning its footage is repaired before anything else happens.
 */

export interface RequestServiceDeps {
  config: Config;
  db: Database;
  clock: Clock;
  footage: FootageIndex;
  log: Logger;
  /** `mqtt.url: "embedded"`: the loopback port of the in-process broker; 0 picks one. */
  embeddedPort?: number;
  /** How often pending requests are checked for expiry. */
  expiryIntervalMs?: number;
  /** Reconnect backoff of the MQTT client (tests shorten it). */
  backoff?: { baseMs: number; maxMs: number };
  /** Told of every intake outcome (the indicator and the UI listen). */
  onResult?: (result: IntakeResult) => void;
  /** The agent's own clock floor, audit log and store (made here when absent). */
  shared?: { floor: ClockFloor; audit: AuditLog; store: RequestStore };
}

export class RequestService implements Service {
  readonly name = 'requests';
  readonly floor: ClockFloor;
  readonly audit: AuditLog;
  readonly store: RequestStore;
  readonly trust: TrustState;
  readonly intake: Intake;
  #broker: EmbeddedBroker | undefined;
  #subscriber: MqttSubscriber | undefined;
  #stopping = new AbortController();
  #loops: Promise<void>[] = [];
  readonly #log: Logger;
  readonly #mqttLog: Logger;

  constructor(private readonly deps: RequestServiceDeps) {
    const { config, db, clock, footage, log } = deps;
    this.#log = log.child({ component: 'requests' });
    this.#mqttLog = log.child({ component: 'mqtt' });
    this.floor = deps.shared?.floor ?? new ClockFloor({ db, clock });
    this.audit = deps.shared?.audit ?? new AuditLog(db, this.floor);
    this.store =
      deps.shared?.store ?? new RequestStore({ db, footage, clock: this.floor, audit: this.audit });
    this.trust = new TrustState({ db, config });
    this.intake = new Intake({
      config,
      floor: this.floor,
      footage,
      audit: this.audit,
      store: this.store,
      trust: this.trust,
      log: this.#log,
    });
  }

  /** The embedded broker's URL once it listens (for demos and tests). */
  get embeddedUrl(): string | undefined {
    return this.#broker?.port ? this.#broker.url : undefined;
  }

  /** The MQTT connection's state, or undefined when MQTT is not configured. */
  connection() {
    return this.#subscriber?.status();
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const stopping = this.#stopping.signal;
    signal.addEventListener('abort', () => this.#stopping.abort(), { once: true });
    await this.floor.load();
    await this.trust.load();
    await this.store.reconcilePins();
    this.#loops.push(this.#expiryLoop(stopping));
    const { mqtt, trust } = this.deps.config;
    if (!mqtt) {
      this.#log.info('no mqtt configured: community requests are off');
      return;
    }
    if (!trust) {
      // Without roots every request would be refused; do not tell a broker our cell for that.
      this.#log.warn('no trust roots configured: community requests are off');
      return;
    }
    this.#loops.push(
      this.#connect(stopping).catch((err: unknown) => {
        this.#log.error({ err: errorMessage(err) }, 'community requests could not start');
      }),
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all(this.#loops);
    this.#loops = [];
    await this.#subscriber?.stop();
    await this.#broker?.stop();
    // Refusals acknowledged before their audit entries were durable: let those entries
    // reach the disk before the caller closes the database.
    await this.intake.flushed();
  }

  /** Starts the embedded broker (retrying if its port is busy), then the subscriber. */
  async #connect(signal: AbortSignal): Promise<void> {
    const mqtt = this.deps.config.mqtt;
    if (!mqtt) return;
    let url = mqtt.url;
    if (url === 'embedded') {
      const port = this.deps.embeddedPort ?? DEFAULT_EMBEDDED_PORT;
      for (let attempt = 0; !signal.aborted; attempt++) {
        const broker = new EmbeddedBroker({ port, log: this.#mqttLog });
        try {
          await broker.start(signal);
          this.#broker = broker;
          break;
        } catch (err) {
          this.#log.error({ err: errorMessage(err) }, 'the embedded MQTT broker did not start');
          if (!(await this.#pause(backoffMs(attempt, 1000, 60_000), signal))) return;
        }
      }
      if (!this.#broker) return;
      url = this.#broker.url;
    }
    const { dataDir, device, policy } = this.deps.config;
    const state = await loadClientState(dataDir);
    const topics = [...subscriptionTopics(device.location, policy.maxRadiusM), REVOCATION_TOPIC];
    if (signal.aborted) return;
    this.#subscriber = new MqttSubscriber({
      url,
      clientId: state.clientId,
      topics,
      staleTopics: state.topics,
      handler: (message) => this.#route(message),
      log: this.#mqttLog,
      // aedes speaks MQTT 3.1.1 only.
      protocolVersion: mqtt.url === 'embedded' ? 4 : 5,
      ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
      ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
      ...(mqtt.ca !== undefined ? { caFile: mqtt.ca } : {}),
      ...(this.deps.backoff ? { backoff: this.deps.backoff } : {}),
      onSubscribed: async (subscribed) => {
        if (sameTopics(subscribed, state.topics)) return;
        state.topics = [...subscribed];
        await saveClientState(dataDir, state);
      },
    });
    await this.#subscriber.start(signal);
  }

  /**
   * One message from the broker. Resolves once the intake has recorded the outcome as
   * durably as it promises (an acceptance, or a refusal of an authentic request, is
   * committed; a message refused before its signature verified only has its audit entry
   * queued, see `Intake`), which is when the MQTT client acknowledges it; a throw (the
   * database failing) leaves it unacknowledged for redelivery.
   */
  async #route(message: InboundMessage): Promise<void> {
    if (message.topic === REVOCATION_TOPIC) {
      const outcome = await this.intake.handleRevocations(message.payload);
      this.#log.debug({ outcome }, 'revocation list handled');
      return;
    }
    if (!message.topic.startsWith(REQUEST_TOPIC_PREFIX)) {
      this.#log.debug(
        { topic: message.topic.slice(0, 100) },
        'ignored a message on an unknown topic',
      );
      return;
    }
    const result = await this.intake.handleRequest(message.topic, message.payload);
    try {
      this.deps.onResult?.(result);
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'an intake listener failed');
    }
  }

  async #expiryLoop(signal: AbortSignal): Promise<void> {
    const interval = this.deps.expiryIntervalMs ?? 60_000;
    while (!signal.aborted) {
      try {
        const expired = await this.store.expireDue();
        if (expired.length > 0) this.#log.info({ count: expired.length }, 'requests expired');
      } catch (err) {
        this.#log.error({ err: errorMessage(err) }, 'expiring requests failed');
      }
      if (!(await this.#pause(interval, signal))) return;
    }
  }

  /** Waits `ms`; false when the service is stopping instead. */
  async #pause(ms: number, signal: AbortSignal): Promise<boolean> {
    try {
      await delay(ms, signal);
      return true;
    } catch {
      // The only rejection is the abort: the service is stopping.
      return false;
    }
  }
}

/** The lead's wiring: one call. */
export function createRequestService(deps: RequestServiceDeps): RequestService {
  return new RequestService(deps);
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}
