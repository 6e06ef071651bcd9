import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The page's defences that do not depend on a session: which Host and Origin a request
 * may carry, the response headers every answer gets, and CSRF tokens.
 */

/**
 * Content-Security-Policy: our own script and stylesheet only, no inline anything, no
 * framing, forms post only to us (CSP Level 3). The `<video>` previews and thumbnails
 * come from the same origin; live view plays from a `blob:` media source our script makes.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  // blob: the live view's player feeds the <video> through Media Source Extensions.
  "media-src 'self' blob:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function setSecurityHeaders(res: ServerResponse, tls: boolean): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // Not no-referrer: under it a browser sends "Origin: null" on our own form posts (Fetch §3.2.5).
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader(
    'Permissions-Policy',
    'camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()',
  );
  if (tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
}

/**
 * The `Host` values the page answers to: the configured listen address, `localhost` and
 * `127.0.0.1` with the port, and any extra names the owner configured. A name that
 * resolves to this device by DNS rebinding is none of these, so the attacker's page never
 * reads ours (RFC 9110 §15.5.20: 421 Misdirected Request).
 */
export function allowedHosts(listenHost: string, port: number, extra: readonly string[]) {
  const hosts = new Set<string>();
  const bracketed = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  for (const host of [bracketed, 'localhost', '127.0.0.1', ...extra]) {
    hosts.add(`${host.toLowerCase()}:${port}`);
  }
  return hosts;
}

export function hostAllowed(req: IncomingMessage, hosts: ReadonlySet<string>): boolean {
  const host = req.headers.host;
  return typeof host === 'string' && hosts.has(host.toLowerCase());
}

/**
 * A state-changing request must come from our own page: its `Origin` is our scheme and
 * an allowed host (a browser always sends Origin on a POST), and where the browser says
 * where the request came from (`Sec-Fetch-Site`), it is same-origin.
 */
export function originAllowed(
  req: IncomingMessage,
  scheme: 'http' | 'https',
  hosts: ReadonlySet<string>,
): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== `${scheme}:` || url.origin !== origin) return false;
  const port = url.port || (scheme === 'https' ? '443' : '80');
  if (!hosts.has(`${url.hostname.toLowerCase()}:${port}`)) return false;
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin';
}

/**
 * A CSRF token bound to a secret the attacker cannot read (the session token, or the
 * login nonce cookie): HMAC-SHA256, base64url. Compared in constant time.
 */
export function csrfToken(secret: string | Buffer, purpose: string): string {
  return createHmac('sha256', secret).update(`threshold/ui/csrf/${purpose}`).digest('base64url');
}

export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
