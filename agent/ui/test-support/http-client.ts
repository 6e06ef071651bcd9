import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/**
 * Raw HTTP for the page's tests: every header under the test's control (Host, Origin,
 * Cookie), which a browser would never let a page forge, and a cookie jar per client.
 */

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function rawRequest(base: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'GET',
        path: req.path,
        headers: { Host: url.host, ...req.headers },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`timed out: ${req.path}`)));
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      // A server that refuses a large body may close before reading it all.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
        reject(Object.assign(new Error(`connection closed: ${err.code}`), { code: err.code }));
      } else reject(err);
    });
    if (req.body !== undefined) outgoing.write(req.body);
    outgoing.end();
  });
}

/** A browser-like client: keeps cookies, sends our Origin on POST unless told otherwise. */
export class PageClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async send(req: RawRequest & { jar?: boolean }): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (req.jar !== false && this.cookies.size > 0) headers.Cookie = this.cookieHeader();
    const res = await rawRequest(this.base, { ...req, headers: { ...headers, ...req.headers } });
    for (const line of res.headers['set-cookie'] ?? []) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
    return this.send({ path, headers });
  }

  /** A form POST as our page sends it. */
  post(
    path: string,
    form: Record<string, string | string[]>,
    options: { headers?: Record<string, string>; jar?: boolean } = {},
  ): Promise<RawResponse> {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) {
      for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
    }
    return this.send({
      method: 'POST',
      path,
      body: body.toString(),
      ...(options.jar !== undefined ? { jar: options.jar } : {}),
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Origin: new URL(this.base).origin,
        ...options.headers,
      },
    });
  }

  /** The CSRF token of the forms on a page. */
  static csrfOf(html: string): string {
    const match = /name="csrf" value="([^"]+)"/.exec(html);
    if (!match?.[1]) throw new Error('no CSRF token on the page');
    return match[1];
  }

  /** Pairs with a code: the login page, then its form. */
  async pair(code: string): Promise<RawResponse> {
    const page = await this.get('/login');
    return this.post('/login', { csrf: PageClient.csrfOf(page.body), code });
  }
}
