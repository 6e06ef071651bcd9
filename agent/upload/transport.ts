import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { UploadError } from './errors.js';

/**
 * How an upload reaches the agency: the CAs it trusts and, optionally, a SOCKS5 proxy.
 *
 * A fresh agent per attempt, with no TLS session cache: a resumed TLS session (a session
 * ticket) or a kept-alive connection shared by the uploads of two requests would link
 * them to one device (promise 3). Within one attempt (HEAD or POST, then PATCH), the
 * connection is reused.
 *
 * Through a proxy, the host name goes to the proxy unresolved (socks5h: RFC 1928 §4,
 * ATYP 0x03, DOMAINNAME), whatever the configured scheme says: the device does not even
 * ask its own resolver for the agency's name, so neither the local network nor its DNS
 * server learns it.
 */
export interface TransportSettings {
  /** PEM file of a CA to trust besides the system's. */
  readonly ca?: string;
  /** socks5://HOST:PORT or socks5h://HOST:PORT. */
  readonly proxy?: string;
}

export interface Connection {
  readonly agent: Agent;
  /** The system's roots and the configured CA. */
  readonly ca: readonly string[];
}

export class Transport {
  private ca: Promise<string[]> | undefined;

  constructor(private readonly settings: TransportSettings) {}

  /** A new agent for one attempt, and the CAs to pass with each request; destroy the agent after. */
  async connection(): Promise<Connection> {
    const ca = await this.trusted();
    if (this.settings.proxy) {
      const proxy = new URL(this.settings.proxy);
      proxy.protocol = 'socks5h:';
      // No session cache here either: the SOCKS agent starts each TLS session afresh.
      return { agent: new SocksProxyAgent(proxy, { keepAlive: true }), ca };
    }
    return { agent: new HttpsAgent({ keepAlive: true, maxCachedSessions: 0 }), ca };
  }

  /** The system's roots plus the configured CA, read once. */
  private trusted(): Promise<string[]> {
    this.ca ??= readExtraCa(this.settings.ca).then((extra) => [...rootCertificates, ...extra]);
    return this.ca;
  }
}

async function readExtraCa(path: string | undefined): Promise<string[]> {
  if (path === undefined) return [];
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new UploadError('upload_invalid', 'upload.ca: cannot read the CA file', { cause: err });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new UploadError('upload_invalid', 'upload.ca: no PEM certificate in the CA file');
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new UploadError('upload_invalid', 'upload.ca: a certificate does not parse', {
        cause: err,
      });
    }
  }
  return blocks;
}
