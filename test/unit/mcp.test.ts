// MCP pieces without Docker: where the endpoint is registered, task pages and numbers, caps, redaction, schemas.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import type { Task, TaskState } from '../../src/api/index.js';
import { isLoopbackHost, type Config, type UserStore } from '../../src/config/index.js';
import { createLogger } from '../../src/log/index.js';
import { registerMcp, TOOLS } from '../../src/mcp/index.js';
import { summarizeArgs } from '../../src/mcp/audit.js';
import { toolSchema } from '../../src/mcp/json-schema.js';
import { cutText, LIST_CAP_BYTES, tasksPage } from '../../src/mcp/tasks-view.js';
import { TOOLS_BY_NAME, type McpServices } from '../../src/mcp/tools.js';
import type { Principal } from '../../src/mcp/auth.js';
import { LogCapture } from '../helpers/log-capture.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/** Just enough of the services for a session to initialize (no task is touched). */
const services = {
  service: { subscribeList: () => ({ snapshot: [], unsubscribe: () => {} }), list: () => [] },
  preferences: { get: () => ({ repositories: [], harness: '', models: {}, settings: {} }) },
  repos: { list: () => [] },
  harnesses: () => Promise.resolve([]),
} as unknown as McpServices;

async function appListeningOn(host: string) {
  const logs = new LogCapture();
  const { logger } = createLogger({ level: 'debug', destination: logs });
  const app = Fastify();
  const registered = await registerMcp(app, {
    services,
    config: { listen: { host, port: 2242 }, externalUrl: null } as unknown as Config,
    users: {} as UserStore,
    loginEnabled: false,
    version: 'test',
    logger,
  });
  return { app, logs, registered };
}

describe('where the MCP endpoint exists without login', () => {
  test('not registered on a non-loopback listener (404), and the log says why', async () => {
    const { app, logs, registered } = await appListeningOn('0.0.0.0');
    assert.equal(registered, false);
    const r = await app.inject({ method: 'POST', url: '/api/v1/mcp', payload: INIT, headers: { accept: 'application/json, text/event-stream' } });
    assert.equal(r.statusCode, 404);
    assert.match(logs.text, /MCP endpoint not registered: no login is configured and the daemon listens beyond loopback/);
    await app.close();
  });

  test('registered on loopback: initialize answers', async () => {
    const { app, registered } = await appListeningOn('127.0.0.1');
    assert.equal(registered, true);
    const r = await app.inject({ method: 'POST', url: '/api/v1/mcp', payload: INIT, headers: { accept: 'application/json, text/event-stream' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.ok(r.headers['mcp-session-id']);
    await app.close();
  });

  test('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com', '127.0.0.1.example.com']) assert.equal(isLoopbackHost(h), false, h);
  });
});

const task = (id: string, state: TaskState, extra: Partial<Task> = {}): Task =>
  ({
    id,
    title: `task ${id}`,
    initialPrompt: '',
    repos: [{ name: 'proj', baseBranch: 'main', branch: `caic-${id}` }],
    harness: 'fake',
    model: 'fake',
    state,
    stateUpdatedAt: '',
    createdAt: '',
    container: '',
    sudo: false,
    owner: '',
    costUSD: 0,
    durationMs: 0,
    numTurns: 0,
    tokens: { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 },
    contextWindowLimit: 0,
    activeInputTokens: 0,
    diffStat: [],
    error: '',
    result: '',
    sessionId: '',
    agentVersion: '',
    planContent: '',
    lastEventId: 0,
    forge: null,
    permissions: { mode: 'bypass', rules: [] },
    pendingApprovals: 0,
    egress: { mode: 'open', allow: [] },
    ...extra,
  });

describe('task pages', () => {
  // Creation order (ids sort by time): a b c d e.
  const all = [task('aaaaaaaaaa', 'stopped'), task('bbbbbbbbbb', 'waiting'), task('cccccccccc', 'purged'), task('dddddddddd', 'running'), task('eeeeeeeeee', 'failed')];

  test('active first, newest first; numbers follow creation order', () => {
    const page = tasksPage(all, undefined, 50);
    assert.deepEqual(page.tasks.map((t) => [t.taskNumber, t.state]), [
      [4, 'running'],
      [2, 'waiting'],
      [5, 'failed'],
      [3, 'purged'],
      [1, 'stopped'],
    ]);
    assert.equal(page.nextCursor, undefined);
  });

  test('cursors walk every task once', () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = tasksPage(all, cursor, 2);
      seen.push(...page.tasks.map((t) => t.taskNumber));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, [4, 2, 5, 3, 1]);
    assert.throws(() => tasksPage(all, 'bm9wZQ', 2), /invalid cursor/);
  });

  test('a page stops at 256 KiB and says so', () => {
    const big = Array.from({ length: 200 }, (_, i) => task(`t${String(i).padStart(9, '0')}`, 'waiting', { error: 'x'.repeat(1800), title: 'y'.repeat(1500) }));
    const page = tasksPage(big, undefined, 1000); // the caic://tasks resource: no count limit, only the size cap
    assert.ok(page.tasks.length < 200);
    assert.equal(page.truncated, true);
    assert.ok(page.nextCursor);
    assert.ok(Buffer.byteLength(JSON.stringify(page.tasks)) <= LIST_CAP_BYTES);
    const first = tasksPage(big.slice(0, 10), undefined, 50);
    assert.equal(first.truncated, undefined);
  });
});

test('cutText cuts at a character boundary and says how long the text was', () => {
  const text = 'é'.repeat(40_000); // 80 000 bytes
  const c = cutText(text);
  assert.equal(c.truncated, true);
  assert.ok(!c.text.includes('\ufffd'), 'no broken character');
  assert.match(c.text, /\[truncated: 80000 bytes in all\]$/);
  assert.ok(Buffer.byteLength(c.text) < 32 * 1024 + 100);
  assert.deepEqual(cutText('short'), { text: 'short', truncated: false });
});

test('audit argument summaries keep identifiers and drop free text and credentials', () => {
  const s = summarizeArgs({ task: 3, message: 'my password is hunter2', url: 'https://user:ghp_secret@github.com/o/r.git?token=abc', force: true, prompt: 'p'.repeat(50) });
  assert.deepEqual(s, { task: 3, message: '<22 chars>', url: 'https://github.com/o/r.git', force: true, prompt: '<50 chars>' });
  assert.ok(!JSON.stringify(summarizeArgs({ url: 'git@github.com:o/r.git' })).includes('git@'));
});

test('every tool schema is a self-contained object schema', () => {
  for (const t of TOOLS) {
    for (const io of ['input', 'output'] as const) {
      const s = toolSchema(io === 'input' ? t.args : t.result, io);
      assert.equal(s.type, 'object', `${t.name} ${io}`);
      assert.ok(!JSON.stringify(s).includes('$ref'), `${t.name} ${io}`);
    }
  }
});

describe('task_create defaults', () => {
  const run = async (prefs: object, repos: string[], args: Record<string, unknown>) => {
    let sent: unknown;
    const created = task('ffffffffff', 'pending');
    const services = {
      service: {
        create: (req: unknown) => ((sent = req), Promise.resolve(created)),
        list: () => [created],
      },
      preferences: { get: () => ({ repositories: [], harness: '', models: {}, settings: {}, ...prefs }) },
      repos: { list: () => repos.map((name) => ({ name })) },
      harnesses: () => Promise.resolve([]),
    } as unknown as McpServices;
    const def = TOOLS_BY_NAME.get('task_create')!;
    const principal = { subject: 'local', caller: null, clientId: 'local', scopes: new Set(), via: 'none' } as unknown as Principal;
    await def.run({ principal, services }, def.args.parse(args));
    return sent;
  };

  test('repository, agent and model come from what the caller used last', async () => {
    const prefs = { repositories: [{ name: 'web', baseBranch: 'main', harness: 'codex', model: 'gpt-5.5', lastUsed: '' }], harness: 'codex', models: { claude: 'opus' } };
    assert.deepEqual(await run(prefs, ['api', 'web'], { prompt: 'hi' }), { repos: [{ name: 'web' }], harness: 'codex', model: 'gpt-5.5', prompt: { text: 'hi' } });
    // Another agent than the repository's: that agent's own last model.
    assert.deepEqual(await run(prefs, ['api', 'web'], { prompt: 'hi', harness: 'claude' }), { repos: [{ name: 'web' }], harness: 'claude', model: 'opus', prompt: { text: 'hi' } });
  });

  test('without preferences: the only repository and Claude Code; with several, the caller must say which', async () => {
    assert.deepEqual(await run({}, ['only'], { prompt: 'hi' }), { repos: [{ name: 'only' }], harness: 'claude', prompt: { text: 'hi' } });
    await assert.rejects(run({}, ['a', 'b'], { prompt: 'hi' }), /name a repository: one of a, b/);
    assert.deepEqual(await run({}, [], { prompt: 'hi', baseBranch: 'dev' }), { repos: [], harness: 'claude', prompt: { text: 'hi' } });
  });
});
