import type { IncomingMessage, ServerResponse } from 'node:http';
import { ThresholdError } from '../errors.js';
import type { Html } from './html.js';

/** A refusal with an HTTP status; `message` is plain words for the owner. */
export class HttpError extends ThresholdError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** Form bodies are small: a share choice or a policy is well under this. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Reads the body, refusing more than `limit` bytes (413) before reading them all. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, 'body_too_large', 'The form is too large.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'body_too_large', 'The form is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * An `application/x-www-form-urlencoded` body as an object: a key given once is a string,
 * a key given more than once an array (the schemas say which they accept).
 */
export function parseForm(body: Buffer): Record<string, string | string[]> {
  const form: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    const seen = form[key];
    if (seen === undefined) form[key] = value;
    else form[key] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return form;
}

/** Cookies of a request (RFC 6265 §5.4); the first of a repeated name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim());
  }
  return cookies;
}

export function sendHtml(res: ServerResponse, status: number, page: Html): void {
  const body = Buffer.from(page.value, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/** 303 See Other: after a POST the browser GETs the next page (no resubmission). */
export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0 });
  res.end();
}
