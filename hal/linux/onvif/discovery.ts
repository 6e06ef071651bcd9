import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { child, children, parseSoap, textOf } from './soap.js';

/** A device that answered a WS-Discovery Probe: where its ONVIF device service is. */
export interface DiscoveredCamera {
  /** Host of the device service (what a config's `camera.host` takes). */
  address: string;
  port: number;
  /** The device service URL the camera announced. */
  xaddr: string;
  /** From its `onvif://www.onvif.org/name/…` scope. */
  name?: string;
  /** From its `onvif://www.onvif.org/hardware/…` scope. */
  hardware?: string;
  /** Its stable WS-Addressing endpoint, e.g. `urn:uuid:…`. */
  endpoint?: string;
}

export interface DiscoveryOptions {
  /** How long to collect answers. */
  timeoutMs: number;
  /** Aborts the probe: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Where Probes go; default 3702, the WS-Discovery port. */
  port?: number;
  /**
   * Where Probes go; default the WS-Discovery group 239.255.255.250. A unicast address
   * probes that host only (a directed Probe, WS-Discovery 1.1 §5.2.2).
   */
  address?: string;
  /**
   * The local IPv4 address to send from and to send multicast on; default: the system's
   * choice (the default route's interface). Tests pass 127.0.0.1 so that the Probe never
   * leaves the machine.
   */
  interfaceAddress?: string;
}

export const WS_DISCOVERY_PORT = 3702;
export const WS_DISCOVERY_GROUP = '239.255.255.250';
/** WS-Discovery (2005/04, as ONVIF Core §7.3 requires) sends UDP twice, 50–250 ms apart. */
const REPEAT_DELAY_MS = 100;
const MAX_DATAGRAM = 64 * 1024;

/** The Probe for ONVIF transmitters (ONVIF Core §7.3.2: Types dn:NetworkVideoTransmitter). */
export function probeMessage(messageId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"' +
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"' +
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    '<s:Header>' +
    `<a:MessageID>${messageId}</a:MessageID>` +
    '<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>' +
    '</s:Header>' +
    '<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>' +
    '</s:Envelope>'
  );
}

/**
 * Sends a WS-Discovery Probe and collects the ProbeMatches that answer it within
 * `timeoutMs`, one entry per endpoint. Answers to other probes and malformed datagrams
 * are ignored: anyone on the network can send to our port.
 */
export function discoverOnvif(options: DiscoveryOptions): Promise<DiscoveredCamera[]> {
  const port = options.port ?? WS_DISCOVERY_PORT;
  const address = options.address ?? WS_DISCOVERY_GROUP;
  const messageId = `urn:uuid:${randomUUID()}`;
  const probe = Buffer.from(probeMessage(messageId), 'utf8');
  return new Promise((resolve, reject) => {
    options.signal?.throwIfAborted();
    const found = new Map<string, DiscoveredCamera>();
    const pending: Promise<void>[] = [];
    const socket = createSocket({ type: 'udp4' });
    let done = false;
    const finish = (outcome: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(repeat);
      options.signal?.removeEventListener('abort', onAbort);
      socket.close();
      outcome();
    };
    const onAbort = () => finish(() => reject(options.signal?.reason));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => void Promise.all(pending).then(() => finish(() => resolve([...found.values()]))),
      options.timeoutMs,
    );
    let repeat: NodeJS.Timeout | undefined;
    socket.on('error', (err) => finish(() => reject(err)));
    socket.on('message', (message, remote) => {
      if (message.length > MAX_DATAGRAM) return;
      pending.push(
        parseProbeMatches(message.toString('utf8'), messageId, remote.address).then((cameras) => {
          for (const camera of cameras) found.set(camera.endpoint ?? camera.xaddr, camera);
        }),
      );
    });
    socket.bind(0, options.interfaceAddress, () => {
      if (options.interfaceAddress && isIPv4(options.interfaceAddress)) {
        socket.setMulticastInterface(options.interfaceAddress);
      }
      // One hop: a Probe is for the local link (WS-Discovery §3.1.1).
      socket.setMulticastTTL(1);
      const send = () => {
        if (!done) socket.send(probe, port, address, (err) => err && finish(() => reject(err)));
      };
      send();
      repeat = setTimeout(send, REPEAT_DELAY_MS);
    });
  });
}

const text = z.string().trim().min(1);

/** The ProbeMatches for our Probe in one datagram; [] for anything else. */
export async function parseProbeMatches(
  xml: string,
  messageId: string,
  senderAddress: string,
): Promise<DiscoveredCamera[]> {
  const envelope = await parseSoap(xml).catch(() => undefined);
  if (!envelope) return [];
  if (textOf(envelope.header, 'RelatesTo') !== messageId) return [];
  const matches = children(child(envelope.body, 'ProbeMatches'), 'ProbeMatch');
  const cameras: DiscoveredCamera[] = [];
  for (const match of matches) {
    const xaddrs = text.safeParse(textOf(match, 'XAddrs'));
    if (!xaddrs.success) continue;
    const urls = xaddrs.data
      .split(/\s+/)
      .map(parseHttpUrl)
      .filter((url): url is URL => url !== null);
    const url = urls.find((u) => u.hostname === senderAddress) ?? urls[0];
    if (!url) continue;
    const scopes = (textOf(match, 'Scopes') ?? '').split(/\s+/);
    const endpoint = textOf(child(match, 'EndpointReference'), 'Address');
    cameras.push({
      address: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
      xaddr: url.toString(),
      ...optional('name', scopeValue(scopes, 'name')),
      ...optional('hardware', scopeValue(scopes, 'hardware')),
      ...optional('endpoint', endpoint?.trim() || undefined),
    });
  }
  return cameras;
}

function parseHttpUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** `onvif://www.onvif.org/name/Front%20door` → "Front door" (ONVIF Core §7.3.2.2). */
function scopeValue(scopes: readonly string[], key: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${key}/`;
  const scope = scopes.find((s) => s.startsWith(prefix));
  if (!scope) return undefined;
  try {
    return decodeURIComponent(scope.slice(prefix.length)) || undefined;
  } catch {
    return undefined;
  }
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
