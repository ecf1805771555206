// The typed API client of the web UI and the `caic` command: one function per route of src/api's
// route table, so paths, methods, bodies and answers cannot drift from the server.
import type { z } from 'zod';
import { routes, type RouteName } from '../api/routes.js';

type Routes = typeof routes;
type Input<S> = S extends z.ZodType ? z.input<S> : never;
type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a call takes: path parameters, query and body, each only when the route has them. */
export type CallArgs<N extends RouteName> = (Routes[N] extends { params: infer P } ? { params: Input<P> } : { params?: undefined }) &
  (Routes[N] extends { querystring: infer Q } ? { query?: Input<Q> } : { query?: undefined }) &
  (Routes[N] extends { body: infer B } ? { body?: Input<B> } : { body?: undefined });
export type CallResult<N extends RouteName> = Routes[N] extends { response: infer R } ? Output<R> : undefined;

/** An error answer of the API: the envelope's code and message, and the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Builds the URL of a route: `:param` segments filled in, query appended. */
export function routeUrl(path: string, params?: Record<string, string>, query?: Record<string, string | undefined>): string {
  let url = path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(v);
  });
  const q = Object.entries(query ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
  if (q.length) url += `?${new URLSearchParams(q).toString()}`;
  return url;
}

export interface ClientOptions {
  /** Origin of the server; empty = same origin (the browser). */
  base?: string;
  fetch?: typeof globalThis.fetch;
  /** Bearer token (API clients outside the browser; the browser uses the session cookie). */
  token?: string;
  /** Called on a 401 so the app can show the login page. */
  onUnauthorized?: () => void;
  /** Pauses before a GET that failed without an answer is tried again (tests shorten them). */
  retryDelaysMs?: readonly number[];
}

/**
 * A GET that fails before any answer (the fetch itself rejects: a phone moving between networks,
 * Chromium's ERR_NETWORK_CHANGED when an interface comes up) is asked again after these pauses.
 * Only GETs: a POST may have reached the server, and repeating it could start a second task.
 */
const GET_RETRY_DELAYS_MS = [250, 1000];

async function fetchRetrying(doFetch: typeof globalThis.fetch, url: string, req: RequestInit, delays: readonly number[]): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await doFetch(url, req);
    } catch (err) {
      // Only a network failure (fetch rejects with a TypeError) is worth asking again: an abort is
      // the caller's wish, and an error from a wrapping fetch (the CLI's refresh saying the pairing
      // ended) is final.
      if (attempt >= delays.length || req.signal?.aborted || !(err instanceof TypeError)) throw err;
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  }
}

export type ApiClient = <N extends RouteName>(name: N, args?: CallArgs<N>, init?: { signal?: AbortSignal }) => Promise<CallResult<N>>;

export function createClient(opts: ClientOptions = {}): ApiClient {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  return async (name, args, init) => {
    const route = routes[name];
    const a = (args ?? {}) as { params?: Record<string, string>; query?: Record<string, string | undefined>; body?: unknown };
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (route.method !== 'GET') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(a.body ?? {});
    }
    const url = `${opts.base ?? ''}${routeUrl(route.path, a.params, a.query)}`;
    const req: RequestInit = { method: route.method, headers, body, credentials: 'same-origin', signal: init?.signal ?? null };
    const res = route.method === 'GET' ? await fetchRetrying(doFetch, url, req, opts.retryDelaysMs ?? GET_RETRY_DELAYS_MS) : await doFetch(url, req);
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // A proxy's HTML error page: reported below with the status.
    }
    if (!res.ok) {
      if (res.status === 401) opts.onUnauthorized?.();
      const env = json as { error?: { code?: string; message?: string }; details?: Record<string, unknown> } | undefined;
      throw new ApiError(res.status, env?.error?.code ?? 'HTTP_ERROR', env?.error?.message ?? `HTTP ${res.status}`, env?.details);
    }
    return json as CallResult<typeof name>;
  };
}
