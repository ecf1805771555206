// Webhook deliveries for tests: real GitHub payloads (@octokit/webhooks-examples) signed as GitHub signs them, GitLab hooks with their token.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import { http, type HttpResponse } from './http.js';

/** The package is one JSON file (its `main`), which ESM imports only with import attributes. */
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as { name: string; examples: unknown[] }[];

/** A copy of one real example payload of `event` (the first with `action`, when given). */
export function githubExample(event: string, action?: string, pick: (p: Record<string, unknown>) => boolean = () => true): Record<string, unknown> {
  const def = examples.find((d) => d.name === event);
  const found = def?.examples.find((e) => (action === undefined || (e as { action?: string }).action === action) && pick(e as Record<string, unknown>));
  if (!found) throw new Error(`no example payload for ${event}${action ? `.${action}` : ''}`);
  return structuredClone(found) as Record<string, unknown>;
}

export interface GithubDelivery {
  event: string;
  payload: unknown;
  /** Raw body instead of JSON.stringify(payload). */
  body?: string | Buffer;
  delivery?: string;
  /** Signature header; default: the body signed with `secret`; null leaves the header out. */
  signature?: string | null;
}

export async function sendGithub(url: string, secret: string, d: GithubDelivery): Promise<HttpResponse & { delivery: string }> {
  const body = d.body ?? JSON.stringify(d.payload);
  const delivery = d.delivery ?? randomUUID();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': d.event,
    'x-github-delivery': delivery,
    'user-agent': 'GitHub-Hookshot/test',
  };
  const signature = d.signature === undefined ? await sign(secret, typeof body === 'string' ? body : body.toString('utf8')) : d.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return { ...(await http(`${url}/webhooks/github`, { method: 'POST', headers, body })), delivery };
}

export async function sendGitlab(url: string, token: string | null, event: string, payload: unknown, uuid: string = randomUUID()): Promise<HttpResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-event-uuid': uuid };
  if (token !== null) headers['x-gitlab-token'] = token;
  return http(`${url}/webhooks/gitlab`, { method: 'POST', headers, body: JSON.stringify(payload) });
}
