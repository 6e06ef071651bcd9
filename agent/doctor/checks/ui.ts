import type { Check } from '../check.js';

/**
 * The owner page is served on loopback (reached through the device itself or an SSH
 * tunnel), or with TLS: otherwise the owner's session cookie and decisions would cross
 * the network in clear.
 */
export function uiCheck(listen: string, tls: boolean): Check {
  return {
    id: 'ui',
    title: 'owner page',
    run: async () => {
      const host = listen.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
      if (isLoopback(host)) return { status: 'ok', detail: `bound to loopback (${listen})` };
      if (tls) return { status: 'ok', detail: `served with TLS on ${listen}` };
      return {
        status: 'fail',
        detail: `served without TLS on ${listen}, reachable from the network`,
        fix: 'set ui.listen to 127.0.0.1:8470 (and reach it by an SSH tunnel), or configure TLS for the page',
      };
    },
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
