/**
 * Credentials out of text that reaches a log line, a status or an error message. Here so
 * that `hal/` camera sources and `agent/` share one implementation (`agent/log.ts`
 * re-exports both).
 */

/** A URL fit for a log line: credentials stripped, query dropped. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username || url.password) {
      url.username = url.username ? '***' : '';
      url.password = url.password ? '***' : '';
    }
    url.search = '';
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** Text fit for a log line or a status: credentials inside any URL in it are masked. */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@');
}

/**
 * Text with every occurrence of the given secrets masked, then URL credentials masked:
 * for messages built from what a device said, which may echo what it was sent.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== '') out = out.split(secret).join('***');
  }
  return redactCredentials(out);
}
