import type { ServerResponse } from 'node:http';

/**
 * Cookie names and attributes. Under TLS the names carry the `__Host-` prefix, which a
 * browser accepts only with Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2), so no
 * other host on the LAN can plant one.
 */
export function cookieNames(tls: boolean) {
  const prefix = tls ? '__Host-' : '';
  return { session: `${prefix}threshold_session`, login: `${prefix}threshold_login`, secure: tls };
}

export function setCookie(
  res: ServerResponse,
  name: string,
  value: string,
  options: { secure: boolean; maxAgeS: number },
): void {
  const cookie = `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${options.maxAgeS}${options.secure ? '; Secure' : ''}`;
  const previous = res.getHeader('Set-Cookie');
  const list = Array.isArray(previous) ? previous : previous ? [String(previous)] : [];
  res.setHeader('Set-Cookie', [...list, cookie]);
}

export function clearCookie(res: ServerResponse, name: string, secure: boolean): void {
  setCookie(res, name, '', { secure, maxAgeS: 0 });
}

/** A short name for a browser from its User-Agent, for the list of paired devices. */
export function browserLabel(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'A browser';
  const system = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS X/.test(ua)
        ? 'macOS'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined;
  return system ? `${browser} on ${system}` : browser;
}
