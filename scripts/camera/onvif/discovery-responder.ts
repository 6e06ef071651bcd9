import { randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { WS_DISCOVERY_GROUP, WS_DISCOVERY_PORT } from '../../../hal/linux/onvif/discovery.js';
import { child, parseSoap, textOf, xmlEscape as x } from '../../../hal/linux/onvif/soap.js';

/** One device that answers Probes. */
export interface AnnouncedDevice {
  /** Stable `urn:uuid:…` endpoint reference. */
  endpoint: string;
  xaddr: string;
  name: string;
  hardware: string;
}

export interface DiscoveryResponderOptions {
  /** The address the camera lives on; multicast is joined on its interface. */
  host: string;
  /** Default 3702; tests pick a free one so that parallel runs do not hear each other. */
  port?: number;
  group?: string;
  devices: () => readonly AnnouncedDevice[];
}

/**
 * Answers WS-Discovery Probes (2005/04, ONVIF Core §7.3) for the emulated cameras: one
 * socket on the multicast group (joined on the camera's interface only) and one on the
 * camera's own address for directed Probes; each ProbeMatch goes back unicast to the
 * sender, one datagram per camera, as separate devices would answer.
 */
export class DiscoveryResponder {
  readonly #options: DiscoveryResponderOptions;
  readonly #sockets: Socket[] = [];
  #port = 0;

  constructor(options: DiscoveryResponderOptions) {
    this.#options = options;
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const group = this.#options.group ?? WS_DISCOVERY_GROUP;
    // The unicast socket first: with port 0 it picks the port the group socket then shares.
    const unicast = await bind(this.#options.port ?? WS_DISCOVERY_PORT, this.#options.host);
    this.#sockets.push(unicast);
    this.#port = unicast.address().port;
    const multicast = await bind(this.#port, group);
    this.#sockets.push(multicast);
    multicast.addMembership(group, this.#options.host);
    for (const socket of this.#sockets) {
      socket.on('message', (message, remote) => void this.#answer(unicast, message, remote));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }

  async #answer(reply: Socket, message: Buffer, remote: RemoteInfo): Promise<void> {
    const soap = await parseSoap(message.toString('utf8')).catch(() => null);
    const probe = soap && child(soap.body, 'Probe');
    const messageId = soap && textOf(soap.header, 'MessageID');
    if (!probe || !messageId) return;
    // Empty Types match every device; otherwise ours must be named (WS-Discovery §5.3).
    const types = textOf(probe, 'Types') ?? '';
    if (types !== '' && !/(^|\s|:)NetworkVideoTransmitter(\s|$)/.test(types)) return;
    for (const device of this.#options.devices()) {
      const datagram = Buffer.from(probeMatches(device, messageId), 'utf8');
      reply.send(datagram, remote.port, remote.address);
    }
  }
}

function bind(port: number, address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

export function probeMatches(device: AnnouncedDevice, relatesTo: string): string {
  const scopes = [
    'onvif://www.onvif.org/type/video_encoder',
    'onvif://www.onvif.org/Profile/Streaming',
    `onvif://www.onvif.org/name/${encodeURIComponent(device.name)}`,
    `onvif://www.onvif.org/hardware/${encodeURIComponent(device.hardware)}`,
  ].join(' ');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"' +
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"' +
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    '<s:Header>' +
    `<a:MessageID>urn:uuid:${randomUUID()}</a:MessageID>` +
    `<a:RelatesTo>${x(relatesTo)}</a:RelatesTo>` +
    '<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>' +
    '<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>' +
    '</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>' +
    `<a:EndpointReference><a:Address>${x(device.endpoint)}</a:Address></a:EndpointReference>` +
    '<d:Types>dn:NetworkVideoTransmitter</d:Types>' +
    `<d:Scopes>${x(scopes)}</d:Scopes>` +
    `<d:XAddrs>${x(device.xaddr)}</d:XAddrs>` +
    '<d:MetadataVersion>1</d:MetadataVersion>' +
    '</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>'
  );
}
