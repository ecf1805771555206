// Turns a route-table entry into Fastify route options, keeping the zod types for handler inference.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteDef } from '../../api/index.js';

type Field<R, K extends string> = R extends { readonly [P in K]: infer S } ? S : undefined;

export interface RouteSchema<R extends RouteDef> {
  params: Field<R, 'params'>;
  querystring: Field<R, 'querystring'>;
  body: Field<R, 'body'>;
  response: R extends { readonly response: infer S } ? { 200: S } : undefined;
}

function noStore(_req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void {
  reply.header('cache-control', 'no-store');
  done(null, payload);
}

export function routeOptions<R extends RouteDef>(def: R) {
  const schema: Record<string, unknown> = {};
  if (def.params) schema.params = def.params;
  if (def.querystring) schema.querystring = def.querystring;
  if (def.body) schema.body = def.body;
  if (def.response) schema.response = { 200: def.response };
  return {
    method: def.method,
    url: def.path,
    schema: schema as unknown as RouteSchema<R>,
    config: { access: def.access },
    // The route table says which answers hold a secret; the header follows from it, not from each handler.
    ...(def.noStore ? { onSend: noStore } : {}),
  };
}
