// What the edge hooks attach to each request (client address verdict, signed-in user) and helpers on it.
import type { FastifyRequest } from 'fastify';
import type { StoredUser } from '../config/index.js';

export interface ClientInfo {
  /** Client address as judged by the gate (canonical text), '' when unknown. */
  ip: string;
  origin: string;
  country: string | null;
  allowed: boolean;
  /** The socket peer is a trusted proxy, so X-Forwarded-* headers are believed. */
  viaTrustedProxy: boolean;
}

export type RouteAccess = 'public' | 'user';

declare module 'fastify' {
  interface FastifyRequest {
    client: ClientInfo | null;
    user: StoredUser | null;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(',')[0]?.trim() || undefined;
}

/** The Host the client asked for: X-Forwarded-Host only when a trusted proxy sent it. */
export function effectiveHost(req: FastifyRequest): string | undefined {
  return (req.client?.viaTrustedProxy ? firstHeader(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
}

/** True when the client reached us over TLS (directly, or at a trusted proxy that says so). */
export function isHttps(req: FastifyRequest): boolean {
  if (req.protocol === 'https') return true;
  return Boolean(req.client?.viaTrustedProxy) && firstHeader(req.headers['x-forwarded-proto'])?.toLowerCase() === 'https';
}

/** Path without the query string: queries carry OAuth codes and states that must not reach logs. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
