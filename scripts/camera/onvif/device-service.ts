import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  child,
  MAX_SOAP_BYTES,
  operationOf,
  parseSoap,
  type SoapEnvelope,
  textOf,
} from '../../../hal/linux/onvif/soap.js';
import type { MotionWindow } from '../camera-args.js';
import { parseDuration, parseTerminationTime } from './duration.js';
import { MotionScript, motionNotifications } from './motion-topics.js';
import { MAX_TERMINATION_MS, PullPointHub } from './pull-point.js';
import * as r from './responses.js';
import { type Credentials, UsernameTokenChecker } from './ws-security.js';

export interface DeviceServiceOptions {
  /** Which camera (1-based), for names and serial numbers. */
  camera: number;
  host: string;
  /** 0 picks a free port. */
  port: number;
  credentials: Credentials;
  video: r.VideoSettings;
  /** The camera's RTSP stream, what GetStreamUri answers until `setStreamUri`. */
  streamUri: string;
  /** When the scripted motion counts from, and the windows. */
  startedAt: number;
  motion: readonly MotionWindow[];
  /** The longest a PullMessages waits, whatever it asks; default 60 s. */
  maxPullMs?: number;
  now?: () => number;
}

/** Operations any client may call before authenticating (ONVIF Core §5.9.4.3, PRE_AUTH). */
const PRE_AUTH = new Set([
  'GetSystemDateAndTime',
  'GetServices',
  'GetCapabilities',
  'GetServiceCapabilities',
  'GetHostname',
  'GetEndpointReference',
  'GetWsdlUrl',
]);
const DEFAULT_TERMINATION_MS = 60_000;
/** A pull waits at most this long by default, whatever it asks (cameras cap it too). */
const MAX_PULL_MS = 60_000;

/**
 * One emulated camera's ONVIF device service: the device, media and events services on
 * one HTTP port, SOAP 1.2 over HTTP POST, WS-Security UsernameToken digest checked on
 * every operation but the pre-authentication ones. Motion events follow the same script
 * as the camera's video.
 */
export class DeviceService {
  readonly hub: PullPointHub;
  readonly #options: DeviceServiceOptions;
  readonly #auth: UsernameTokenChecker;
  readonly #script: MotionScript;
  readonly #now: () => number;
  #server: Server | null = null;
  #port = 0;
  #streamUri: string;
  #triggered = 0;
  #silent = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: DeviceServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.hub = new PullPointHub(this.#now);
    this.#auth = new UsernameTokenChecker(options.credentials, this.#now);
    this.#streamUri = options.streamUri;
    this.#script = new MotionScript(options.startedAt, options.motion, (active, at) => {
      if (this.#triggered === 0) this.hub.publish(motionNotifications(active, at, 'Changed'));
    });
  }

  /** Whether the camera senses motion now (scripted or triggered). */
  get motionActive(): boolean {
    return this.#script.active || this.#triggered > 0;
  }

  /** Motion for `durationMs` from now, besides the script (for tests of any timing). */
  triggerMotion(durationMs: number): void {
    const before = this.motionActive;
    this.#triggered += 1;
    if (!before) this.hub.publish(motionNotifications(true, this.#now(), 'Changed'));
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#triggered -= 1;
      if (!this.motionActive) this.hub.publish(motionNotifications(false, this.#now(), 'Changed'));
    }, durationMs);
    this.#timers.add(timer);
  }

  get port(): number {
    return this.#port;
  }

  /** The device service address, as WS-Discovery announces it. */
  get xaddr(): string {
    return `${this.#base()}/onvif/device_service`;
  }

  /**
   * While on, the camera takes requests and answers none of them (a hung device): each
   * waits until its client gives up or the camera stops.
   */
  setSilent(on: boolean): void {
    this.#silent = on;
  }

  /** What GetStreamUri answers from now on (a camera whose stream moved). */
  setStreamUri(uri: string): void {
    this.#streamUri = uri;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.#script.start();
  }

  /** Stops at once: subscriptions end, connections (long polls included) are cut. */
  async stop(): Promise<void> {
    this.#script.stop();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.hub.dropAll();
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  #base(): string {
    const host = this.#options.host.includes(':') ? `[${this.#options.host}]` : this.#options.host;
    return `http://${host}:${this.#port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#silent) return;
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const body = await readBody(req).catch(() => null);
    if (body === null) {
      res.writeHead(413).end();
      return;
    }
    const soap = await parseSoap(body).catch(() => null);
    const operation = soap && operationOf(soap.body);
    if (!soap || !operation) {
      send(res, 400, r.fault('Sender', 'ter:WellFormed', 'Not a SOAP envelope'));
      return;
    }
    if (!PRE_AUTH.has(operation) && !this.#auth.check(soap.header)) {
      send(res, 400, r.fault('Sender', 'ter:NotAuthorized', 'Sender not Authorized'));
      return;
    }
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    const [status, xml] = await this.#answer(operation, soap, req.url ?? '/', closed);
    send(res, status, xml);
  }

  async #answer(
    operation: string,
    soap: SoapEnvelope,
    path: string,
    closed: Promise<void>,
  ): Promise<[number, string]> {
    const now = this.#now();
    const request = child(soap.body, operation);
    const video = this.#options.video;
    const base = this.#base();
    const addresses = {
      device: `${base}/onvif/device_service`,
      media: `${base}/onvif/media_service`,
      events: `${base}/onvif/events_service`,
    };
    switch (operation) {
      case 'GetSystemDateAndTime':
        return [200, r.systemDateAndTime(new Date(now))];
      case 'GetServices':
        return [200, r.services(addresses)];
      case 'GetCapabilities':
        return [200, r.capabilities(addresses)];
      case 'GetDeviceInformation':
        return [200, r.deviceInformation(this.#options.camera)];
      case 'GetProfiles':
        return [200, r.profiles(video)];
      case 'GetVideoSources':
        return [200, r.videoSources(video)];
      case 'GetStreamUri': {
        const token = textOf(request, 'ProfileToken');
        if (token !== r.PROFILE_TOKEN) {
          return [400, r.fault('Sender', 'ter:NoProfile', 'The requested profile does not exist')];
        }
        return [200, r.streamUri(this.#streamUri)];
      }
      case 'CreatePullPointSubscription': {
        const asked = textOf(request, 'InitialTerminationTime');
        const termination = this.#termination(asked, now);
        const initial = motionNotifications(this.motionActive, now, 'Initialized');
        const id = termination === null ? null : this.hub.create(termination, initial);
        if (termination === null) {
          return [
            400,
            r.fault('Sender', 'wsnt:UnacceptableInitialTerminationTimeFault', 'Bad time'),
          ];
        }
        if (id === null) {
          return [500, r.fault('Receiver', 'ter:Action', 'The event service failed')];
        }
        const address = `${base}/onvif/subscription/${id}`;
        return [200, r.createPullPointSubscription(address, now, termination)];
      }
      case 'PullMessages':
      case 'Renew':
      case 'Unsubscribe':
        return this.#subscriptionOperation(operation, soap, path, now, closed);
      default:
        return [
          400,
          r.fault('Receiver', 'ter:ActionNotSupported', `${operation} is not supported`),
        ];
    }
  }

  async #subscriptionOperation(
    operation: 'PullMessages' | 'Renew' | 'Unsubscribe',
    soap: SoapEnvelope,
    path: string,
    now: number,
    closed: Promise<void>,
  ): Promise<[number, string]> {
    const request = child(soap.body, operation);
    const id = /^\/onvif\/subscription\/([0-9a-f-]{36})$/.exec(path)?.[1] ?? '';
    const unknown: [number, string] = [
      400,
      r.fault('Sender', 'wsrf-rw:ResourceUnknownFault', 'No such subscription'),
    ];
    const failed: [number, string] = [
      500,
      r.fault('Receiver', 'ter:Action', 'The event service failed'),
    ];
    if (operation === 'Unsubscribe') {
      return this.hub.unsubscribe(id) ? [200, r.unsubscribe()] : unknown;
    }
    if (operation === 'Renew') {
      const termination = this.#termination(textOf(request, 'TerminationTime'), now);
      if (termination === null)
        return [400, r.fault('Sender', 'wsnt:UnacceptableTerminationTimeFault', 'Bad time')];
      if (this.hub.faulting) return failed;
      return this.hub.renew(id, termination) ? [200, r.renew(now, termination)] : unknown;
    }
    const timeout = Math.min(
      parseDuration(textOf(request, 'Timeout') ?? '') ?? 10_000,
      this.#options.maxPullMs ?? MAX_PULL_MS,
    );
    const limit = Math.max(1, Math.min(1024, Number(textOf(request, 'MessageLimit') ?? 10) || 10));
    const outcome = await this.hub.pull(id, timeout, limit, closed);
    if (outcome.kind === 'fault') return failed;
    if (outcome.kind === 'unknown') return unknown;
    return [200, r.pullMessages(this.#now(), outcome.termination, outcome.messages)];
  }

  #termination(asked: string | undefined, now: number): number | null {
    if (asked === undefined || asked === '') return now + DEFAULT_TERMINATION_MS;
    const at = parseTerminationTime(asked, now);
    if (at === null || at <= now) return null;
    return Math.min(at, now + MAX_TERMINATION_MS);
  }
}

function send(res: ServerResponse, status: number, xml: string): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8' }).end(xml);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SOAP_BYTES) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
