// Tool approval: an agent's requests to run a tool, decided by rules, remembered allowances, a person or the timeout.
import type { AnswerApprovalReq, ApprovalDecision, PendingApproval, PermissionMode, PermissionRule, TaskPermissions } from '../api/index.js';
import type { Logger } from '../log/index.js';
import { describeRule, matchRule } from './approval-rules.js';
import { TaskError } from './errors.js';
import type { Task } from './task.js';
import { MAX_TOOL_INPUT_BYTES, type ApprovalAsk, type PendingAsk } from './transcript.js';

/** `[approval]` of the config: what a task that does not choose gets, and how long a person has. */
export interface ApprovalConfig {
  mode: PermissionMode;
  rules: PermissionRule[];
  timeoutMs: number;
}

export const BYPASS: TaskPermissions = Object.freeze({ mode: 'bypass', rules: [] });

export interface ApprovalDeps {
  logger: Logger;
  /** How long a request waits for a person before it is denied. */
  timeoutMs: number;
  /** The audit log: every decision, with task, tool, decision and who made it (never the call's arguments). */
  audit?: (record: Record<string, unknown>) => void;
  /** A request now waits for a person (Web Push). */
  onAsk?: (task: Task, pending: PendingApproval) => void;
}

interface Verdict {
  decision: ApprovalDecision;
  by: 'user' | 'rule' | 'timeout' | 'agent';
  user: string;
  message: string;
  /** The rule that decided (for the audit log). */
  rule?: string;
}

/** A pending request can only be answered while the agent runs a turn (it waits in one). */
const ASKING_STATES = new Set(['starting', 'running']);
/** The longest setTimeout takes (about 24.8 days); a longer wait is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A tool input as a request shows it: whole up to 16 KiB, else a preview (the tool call's own endpoint has it whole). */
export function cutInput(input: unknown): unknown {
  const json = JSON.stringify(input ?? {});
  return json.length > MAX_TOOL_INPUT_BYTES ? { truncated: true, preview: json.slice(0, MAX_TOOL_INPUT_BYTES) } : (input ?? {});
}

export function formatWait(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

export class Approvals {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Tasks being updated: the records an update writes publish again, and must not recurse. */
  private readonly busy = new Set<Task>();

  constructor(private readonly deps: ApprovalDeps) {}

  /**
   * After anything the task published: puts the agent's new requests on record (and decides those
   * a rule or an earlier allowance covers), settles withdrawn ones and those of an agent that is
   * no longer there, and keeps a deadline armed for each that waits.
   */
  update(task: Task): void {
    const t = task.transcript;
    if (!t || !task.log || task.log.isSealed || this.busy.has(task)) return;
    if (!t.approvalAsks.length && !t.approvalWithdrawn.length && !t.pendingApprovals.size) return;
    this.busy.add(task);
    try {
      for (const id of t.approvalWithdrawn.splice(0)) this.settle(task, id, { decision: 'deny', by: 'agent', user: '', message: 'withdrawn by the agent' }, false);
      const gone = t.agentExited || !ASKING_STATES.has(task.state);
      for (const p of [...t.pendingApprovals.values()]) {
        if (gone || p.session !== t.session) this.settle(task, p.requestId, { decision: 'deny', by: 'agent', user: '', message: 'the agent session ended' }, false);
      }
      if (gone) {
        t.approvalAsks.length = 0;
        return;
      }
      for (const ask of t.approvalAsks.splice(0)) this.arrive(task, ask);
      for (const p of t.pendingApprovals.values()) this.arm(task, p);
    } finally {
      this.busy.delete(task);
    }
  }

  /** A new request: on record with its deadline, then decided at once or left to a person. */
  private arrive(task: Task, ask: ApprovalAsk): void {
    const t = task.transcript!;
    task.record({
      type: 'caic_approval',
      requestId: ask.requestId,
      toolUseId: ask.toolUseId,
      tool: ask.tool,
      input: cutInput(ask.input),
      reason: ask.reason,
      expiresAt: new Date(Date.now() + this.deps.timeoutMs).toISOString(),
      session: t.session,
    });
    const verdict = this.decide(task, ask);
    if (verdict) {
      this.settle(task, ask.requestId, verdict, true);
      return;
    }
    const p = t.pendingApprovals.get(ask.requestId);
    if (!p) return;
    this.arm(task, p);
    try {
      this.deps.onAsk?.(task, pendingDto(task, p));
    } catch (err) {
      this.deps.logger.warn({ task: task.id, err: (err as Error).message }, 'approval notification failed');
    }
  }

  /** What settles a request without a person, or null when one must answer. */
  private decide(task: Task, ask: ApprovalAsk): Verdict | null {
    const perms = task.meta.permissions ?? BYPASS;
    // Started unasked (a task from before approvals, a bypass task): what it asks anyway is allowed.
    if (perms.mode === 'bypass') return { decision: 'allowOnce', by: 'rule', user: '', message: '', rule: 'mode bypass' };
    if (task.transcript!.allowedTools.has(ask.tool)) return { decision: 'allowTask', by: 'rule', user: '', message: '', rule: `${ask.tool} allowed for this task` };
    if (perms.mode !== 'rules') return null;
    const r = matchRule(perms.rules, ask.tool, ask.input);
    if (!r || r.action === 'ask') return null;
    const rule = describeRule(r);
    return r.action === 'allow' ? { decision: 'allowOnce', by: 'rule', user: '', message: '', rule } : { decision: 'deny', by: 'rule', user: '', message: `denied by the rule ${rule}`, rule };
  }

  /** Keeps a deadline armed for a waiting request (re-armed from its expiresAt after a restart). */
  private arm(task: Task, p: PendingAsk): void {
    const key = `${task.id}\0${p.requestId}`;
    if (this.timers.has(key)) return;
    const left = (Date.parse(p.expiresAt) || 0) - Date.now();
    const timer = setTimeout(() => {
      this.timers.delete(key);
      if (!task.transcript?.pendingApprovals.has(p.requestId)) return;
      if (left > MAX_TIMER_MS) return this.arm(task, p);
      if (!task.log || task.log.isSealed) return;
      this.settle(task, p.requestId, { decision: 'deny', by: 'timeout', user: '', message: `no answer within ${formatWait(this.deps.timeoutMs)}` }, true);
    }, Math.max(0, Math.min(left, MAX_TIMER_MS)));
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Records the decision, tells the agent (`send`), and audits it. False when the request is not pending. */
  private settle(task: Task, requestId: string, v: Verdict, send: boolean): boolean {
    const t = task.transcript!;
    const p = t.pendingApprovals.get(requestId);
    if (!p) return false;
    task.record({ type: 'caic_approval_resolved', requestId, decision: v.decision, by: v.by, user: v.user, message: v.message });
    const key = `${task.id}\0${requestId}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    if (send) {
      const parser = t.agentParser;
      const line = parser ? task.harness.encodeApproval({ requestId, allow: v.decision !== 'deny', message: v.message, always: v.decision === 'allowTask' }, parser) : null;
      if (line) task.session?.write(line);
      for (const l of parser?.drain?.() ?? []) task.session?.write(l);
    }
    this.deps.audit?.({
      event: 'approval.decision',
      task: task.id,
      owner: task.meta.owner,
      tool: p.tool,
      requestId,
      decision: v.decision,
      by: v.by,
      ...(v.user ? { user: v.user } : {}),
      ...(v.rule ? { rule: v.rule } : {}),
    });
    return true;
  }

  /** A person's answer. 404: no such request; 409: settled already, or the agent cannot be told now. */
  answer(task: Task, requestId: string, req: AnswerApprovalReq, user: string): { requestId: string; decision: ApprovalDecision } {
    const t = task.transcript;
    if (!t?.pendingApprovals.has(requestId)) {
      const settled = t?.settledApprovals.get(requestId);
      if (settled) throw new TaskError('CONFLICT', `approval request ${requestId} was settled already (${settled})`);
      throw new TaskError('NOT_FOUND', `no approval request ${requestId} in task ${task.id}`);
    }
    if (!task.session?.alive || !task.log || task.log.isSealed) throw new TaskError('CONFLICT', 'the agent is not connected right now; try again in a moment');
    const who = user || 'the user';
    const message = req.decision === 'deny' ? (req.message?.trim() || `denied by ${who}`) : '';
    this.settle(task, requestId, { decision: req.decision, by: 'user', user, message }, true);
    return { requestId, decision: req.decision };
  }

  /** The task's requests that wait for a person, oldest first. */
  list(task: Task): PendingApproval[] {
    return [...(task.transcript?.pendingApprovals.values() ?? [])].map((p) => pendingDto(task, p));
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

function pendingDto(task: Task, p: PendingAsk): PendingApproval {
  return {
    taskId: task.id,
    requestId: p.requestId,
    toolUseId: p.toolUseId,
    tool: p.tool,
    input: p.input,
    reason: p.reason,
    requestedAt: p.requestedAt || p.expiresAt,
    expiresAt: p.expiresAt,
    eventId: p.eventId,
  };
}
