import type { z } from 'zod';
import { HttpError } from './http.js';

/**
 * A small table of routes: a method and a path pattern (`/requests/:id`), the schemas of
 * its inputs, and whether it needs a session. The server does the rest in one order for
 * every route (see `OwnerPage`).
 */

export type Method = 'GET' | 'POST';

export interface Route<Ctx, P = unknown, Q = unknown, B = unknown> {
  method: Method;
  path: string;
  /** Reachable without a session (the login page, the static files). */
  public?: boolean;
  /** A page a person opens: without a session it redirects to the login page (else 401). */
  page?: boolean;
  params?: z.ZodType<P, unknown>;
  query?: z.ZodType<Q, unknown>;
  /** POST only: the form, CSRF token included (checked before this schema runs). */
  body?: z.ZodType<B, unknown>;
  handle(ctx: Ctx, input: { params: P; query: Q; body: B }): Promise<void>;
}

/** Declares a route with typed inputs. */
export function route<Ctx, P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  definition: Route<Ctx, P, Q, B>,
): Route<Ctx> {
  return definition as unknown as Route<Ctx>;
}

interface Compiled<Ctx> {
  route: Route<Ctx>;
  pattern: RegExp;
  names: string[];
}

export type Match<Ctx> =
  | { kind: 'found'; route: Route<Ctx>; params: Record<string, string> }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allow: Method[] };

export class Router<Ctx> {
  readonly #routes: Compiled<Ctx>[] = [];

  add(...routes: Route<Ctx>[]): this {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.path
        .split('/')
        .map((part) => {
          if (part.startsWith(':')) {
            names.push(part.slice(1));
            return '([^/]+)';
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('/');
      this.#routes.push({ route, pattern: new RegExp(`^${source}$`), names });
    }
    return this;
  }

  match(method: string, pathname: string): Match<Ctx> {
    const allow: Method[] = [];
    for (const { route, pattern, names } of this.#routes) {
      const found = pattern.exec(pathname);
      if (!found) continue;
      const wanted = method === 'HEAD' ? 'GET' : method;
      if (route.method !== wanted) {
        allow.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(found[i + 1] ?? '');
        } catch {
          throw new HttpError(400, 'bad_path', 'The address is not valid.');
        }
      });
      return { kind: 'found', route, params };
    }
    return allow.length > 0 ? { kind: 'method_not_allowed', allow } : { kind: 'not_found' };
  }
}
