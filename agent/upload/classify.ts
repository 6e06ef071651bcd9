import type { HttpRequest, HttpResponse } from 'tus-js-client';
import { UploadError } from './errors.js';

/**
 * What a failed attempt means for the next one.
 *
 * - `transient`: try again after a backoff. Network errors and stalls; 5xx; 408; 409
 *   Conflict (our offset was stale: the next HEAD corrects it: tus 1.0.0, Core Protocol, PATCH); 423 Locked
 *   (another request holds the upload); 429; 460 Checksum Mismatch.
 * - `gone`: the stored upload URL is no longer known to the server (404 Not Found or
 *   410 Gone on HEAD or PATCH: tus 1.0.0, Core Protocol, HEAD and PATCH), or it holds other bytes; a new
 *   upload of the same sealed bytes is created.
 * - `permanent`: any other 4xx (403 for a request the agency does not know, 404 or 410
 *   on creation, 413 too large …): `UploadRefused`.
 * - `invalid`: our own input is wrong (a non-https Location, bad metadata): thrown as is.
 */
export type Failure =
  | { readonly kind: 'transient'; readonly reason: string }
  | { readonly kind: 'gone'; readonly status: number; readonly reason: string }
  | { readonly kind: 'permanent'; readonly status: number; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const TRANSIENT_4XX = new Set([408, 409, 423, 429, 460]);

/** The parts of tus-js-client's DetailedError we read. */
interface TusFailure {
  readonly originalRequest?: HttpRequest | null;
  readonly originalResponse?: HttpResponse | null;
  readonly causingError?: Error | null;
}

export function classifyFailure(error: Error): Failure {
  const tus = error as Error & TusFailure;
  const cause = tus.causingError ?? undefined;
  if (error instanceof UploadError) return classifyOwn(error);
  if (cause instanceof UploadError) return classifyOwn(cause);
  const response = tus.originalResponse ?? undefined;
  const method = tus.originalRequest?.getMethod() ?? 'request';
  if (!response) {
    const why = cause ?? error;
    return { kind: 'transient', reason: `${method}: ${networkReason(why)}` };
  }
  const status = response.getStatus();
  const reason = `${method} answered ${status}`;
  if (status < 400 || status >= 500 || TRANSIENT_4XX.has(status)) {
    return { kind: 'transient', reason };
  }
  if ((status === 404 || status === 410) && (method === 'HEAD' || method === 'PATCH')) {
    return { kind: 'gone', status, reason };
  }
  return { kind: 'permanent', status, reason };
}

function classifyOwn(error: UploadError): Failure {
  switch (error.code) {
    case 'upload_invalid':
      return { kind: 'invalid', reason: error.message };
    case 'upload_mismatch':
      return { kind: 'gone', status: 0, reason: error.message };
    case 'upload_stalled':
    case 'upload_url_not_saved':
      return { kind: 'transient', reason: error.message };
  }
}

/** A network error's code or message, without the URL tus-js-client appends. */
function networkReason(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}` : error.message.split(', originated from')[0] || error.name;
}
