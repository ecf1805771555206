// The approval routes as the UI calls them: answer one request, list the caller's pending ones.
import type { AnswerApprovalReq, PendingApproval } from '../../../src/api/index.js';
import type { z } from 'zod';
import { ApiError, routeUrl } from '../lib/api';
import { UNAUTHORIZED_EVENT } from './client';

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const r = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!r.ok) {
    if (r.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    const e = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(r.status, e?.code ?? 'HTTP', e?.message ?? `HTTP ${r.status}`);
  }
  return data as T;
}

export function answerApproval(taskId: string, requestId: string, body: z.input<typeof AnswerApprovalReq>): Promise<unknown> {
  return call('POST', routeUrl('/api/v1/tasks/:id/approvals/:requestId', { id: taskId, requestId }), body);
}

export async function listApprovals(): Promise<PendingApproval[]> {
  return (await call<{ approvals: PendingApproval[] }>('GET', '/api/v1/approvals')).approvals;
}
