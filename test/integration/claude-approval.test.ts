// Tool approval with the real Claude Code CLI (its permission prompt over stdio) against the
// Anthropic stand-in in the container: a rule allows Read unasked; Bash waits for a person; allow →
// the command runs; deny → the stand-in receives the denial in the next request's tool result; no
// answer → denied at the ([approval] timeout) deadline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventMessage, PendingApproval, Task } from '../../src/api/index.js';
import { CLAUDE_STANDIN, REAL_AGENT_TIMEOUT_MS, startRealAgent, type RealAgentOptions } from '../helpers/real-agent.js';
import { waitUntil } from '../helpers/wait.js';

const TIMEOUT_S = 8;

const options: RealAgentOptions = {
  ...CLAUDE_STANDIN,
  file: 'unused.md',
  fixture: 'claude-approval',
  prompt: 'STUB_READ /etc/hostname',
  permissions: { mode: 'rules', rules: [{ tool: 'Read', action: 'allow' }] },
  extraConfig: `[approval]\ntimeout = "${TIMEOUT_S}s"`,
};

type ToolResults = { isError: boolean; content: string }[];

test('claude: rules allow Read; Bash asks; allow runs it, deny reaches the model, no answer is denied at the timeout', { timeout: REAL_AGENT_TIMEOUT_MS }, async () => {
  await using run = await startRealAgent(options);
  const { env, task } = run;
  const turns = async (n: number, what: string) => {
    try {
      return await waitUntil(() => env.api('GET', `/api/v1/tasks/${task.id}`).then((r) => r.json<Task>()), (t) => t.state === 'waiting' && t.numTurns >= n, { timeoutMs: 150_000, what });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- relay and stub logs:\n${await run.diagnose()}`, { cause: err });
    }
  };
  const pendingOne = async (what: string) => {
    try {
      return (await waitUntil(() => env.api('GET', `/api/v1/tasks/${task.id}/approvals`).then((r) => r.json<{ approvals: PendingApproval[] }>().approvals), (a) => a.length === 1, { timeoutMs: 150_000, intervalMs: 25, what }))[0]!;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- relay and stub logs:\n${await run.diagnose()}`, { cause: err });
    }
  };
  const lastToolResults = async (): Promise<ToolResults> => {
    const lines = (await run.requests()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { toolResults?: ToolResults });
    return lines.reverse().find((l) => l.toolResults)?.toolResults ?? [];
  };
  const input = async (text: string) => assert.equal((await env.api('POST', `/api/v1/tasks/${task.id}/input`, { prompt: { text } })).status, 200);
  const events = (): EventMessage[] => run.events();

  // 1. Read outside the project: Claude Code asks, the rule allows it at once.
  await turns(1, 'the Read turn');
  const asked = events().filter((e) => e.kind === 'approval');
  assert.equal(asked.length, 1, JSON.stringify(asked));
  assert.ok(asked[0]!.kind === 'approval' && asked[0]!.tool === 'Read');
  const byRule = events().find((e) => e.kind === 'approvalResolved');
  assert.ok(byRule?.kind === 'approvalResolved' && byRule.by === 'rule' && byRule.decision === 'allowOnce', JSON.stringify(byRule));
  const read = await lastToolResults();
  assert.equal(read[0]?.isError, false, JSON.stringify(read));

  // 2. Bash waits for a person; allowed, it runs.
  await input('STUB_BASH echo approved > /home/user/src/proj/bash-ran.txt');
  const bash = await pendingOne('the Bash request');
  assert.equal(bash.tool, 'Bash');
  assert.deepEqual(bash.input, { command: 'echo approved > /home/user/src/proj/bash-ran.txt', description: 'Run the command the test gave' });
  assert.equal((await env.execIn(task.id, 'cat /home/user/src/proj/bash-ran.txt 2>/dev/null || echo none', 'user')).output.trim(), 'none', 'nothing ran before the answer');
  const allowed = await env.api('POST', `/api/v1/tasks/${task.id}/approvals/${bash.requestId}`, { decision: 'allowOnce' });
  assert.equal(allowed.status, 200, allowed.body);
  await turns(2, 'the allowed Bash turn');
  assert.equal((await env.execIn(task.id, 'cat /home/user/src/proj/bash-ran.txt', 'user')).output.trim(), 'approved');

  // 3. Denied with a message: the model gets it in the tool result.
  await input('STUB_BASH echo no > /home/user/src/proj/denied.txt');
  const denied = await pendingOne('the second Bash request');
  const r = await env.api('POST', `/api/v1/tasks/${task.id}/approvals/${denied.requestId}`, { decision: 'deny', message: 'Not now, use the Makefile instead.' });
  assert.equal(r.status, 200, r.body);
  await turns(3, 'the denied Bash turn');
  const deniedResults = await lastToolResults();
  assert.equal(deniedResults[0]?.isError, true, JSON.stringify(deniedResults));
  assert.match(deniedResults[0].content, /Not now, use the Makefile instead\./);
  assert.equal((await env.execIn(task.id, 'cat /home/user/src/proj/denied.txt 2>/dev/null || echo none', 'user')).output.trim(), 'none');

  // 4. Nobody answers: denied at the deadline, and the model is told.
  await input('STUB_BASH echo late > /home/user/src/proj/late.txt');
  const late = await pendingOne('the third Bash request');
  await turns(4, 'the timed-out turn');
  const resolved = events().find((e) => e.kind === 'approvalResolved' && e.requestId === late.requestId);
  assert.ok(resolved?.kind === 'approvalResolved' && resolved.by === 'timeout' && resolved.decision === 'deny', JSON.stringify(resolved));
  assert.ok(Date.parse(resolved.ts) >= Date.parse(late.expiresAt) - 100, 'not before its deadline');
  const lateResults = await lastToolResults();
  assert.equal(lateResults[0]?.isError, true, JSON.stringify(lateResults));
  assert.match(lateResults[0].content, new RegExp(`no answer within ${TIMEOUT_S}s`));
  assert.equal((await env.execIn(task.id, 'cat /home/user/src/proj/late.txt 2>/dev/null || echo none', 'user')).output.trim(), 'none');
});
