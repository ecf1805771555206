// Turns the zod schemas of src/api into the JSON Schemas MCP tools publish (self-contained: no $ref).
import { z } from 'zod';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Replaces every `$ref` to a definition by the definition itself. Schemas with an id in src/api
 * (Task, Usage, ...) come out of zod as shared definitions; some MCP clients do not resolve
 * references in tool schemas, and ours have no cycles, so inlining is always possible.
 */
function inline(node: Json, defs: Record<string, Json>, depth = 0): Json {
  if (depth > 64) throw new Error('schema nested too deeply (a cycle?)');
  if (Array.isArray(node)) return node.map((n) => inline(n, defs, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)?.[1];
    const def = name !== undefined ? defs[name] : undefined;
    if (def === undefined) throw new Error(`unresolved schema reference ${ref}`);
    const { $ref: _ref, ...rest } = node;
    return inline({ ...(def as Record<string, Json>), ...rest }, defs, depth + 1);
  }
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(node)) if (k !== '$defs' && k !== 'definitions') out[k] = inline(v, defs, depth + 1);
  return out;
}

/** A tool's input (what a client may send) or output (what we return) schema, as JSON Schema draft-07. */
export function toolSchema(schema: z.ZodType, io: 'input' | 'output'): { type: 'object'; [k: string]: unknown } {
  const json = z.toJSONSchema(schema, { io, target: 'draft-7', unrepresentable: 'any' }) as { [k: string]: Json };
  const defs = { ...((json.definitions ?? {}) as Record<string, Json>), ...((json.$defs ?? {}) as Record<string, Json>) };
  const out = inline(json, defs) as { type: 'object'; [k: string]: unknown };
  if (out.type !== 'object') throw new Error('MCP tool schemas must describe an object');
  return out;
}
