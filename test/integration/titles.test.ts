// Task titles end to end: a real daemon asks a local stand-in of the Anthropic Messages API for a
// title, the task list stream hears it, a rename (PATCH) wins over it, and both survive a restart.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Task, TaskListEvent } from '../../src/api/index.js';
import { logPath } from '../../src/tasks/index.js';
import { SseClient } from '../helpers/sse.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';

const KEY = 'sk-ant-api03-title-test-0123456789abcdef';

interface Stub {
  url: string;
  requests: { headers: IncomingMessage['headers']; body: { model: string; messages: { content: string }[] } }[];
  /** While set, answers wait for release(). */
  hold: boolean;
  release(): void;
  close(): Promise<void>;
}

/** The Messages API as Anthropic answers it (non-streaming), naming every task "Login page fix." */
async function anthropicStub(): Promise<Stub> {
  const held: (() => void)[] = [];
  const answer = (res: ServerResponse, model: string) => {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_stub' });
    res.end(
      JSON.stringify({
        id: 'msg_stub',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text: '"Login page fix."' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 40, output_tokens: 6 },
      }),
    );
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/messages') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } }));
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Stub['requests'][number]['body'];
      stub.requests.push({ headers: req.headers, body });
      if (stub.hold) held.push(() => answer(res, body.model));
      else answer(res, body.model);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const stub: Stub = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    hold: false,
    release: () => {
      stub.hold = false;
      for (const h of held.splice(0)) h();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return stub;
}

describe('task titles', () => {
  let env: TaskEnv;
  let stub: Stub;
  let list: SseClient;
  const ids: string[] = [];
  const get = async (id: string) => (await env.api('GET', `/api/v1/tasks/${id}`)).json<Task>();
  const logText = (id: string) => readFile(logPath(env.d.cacheDir, id), 'utf8');
  /** The title the task-list stream last carried for a task. */
  const streamedTitle = (id: string): string | undefined => {
    let title: string | undefined;
    for (const e of list.messages<TaskListEvent>()) {
      if (e.type === 'snapshot') title = e.tasks.find((t) => t.id === id)?.title ?? title;
      if (e.type === 'upsert' && e.task.id === id) title = e.task.title;
      if (e.type === 'patch' && e.id === id && e.fields.title !== undefined) title = e.fields.title;
    }
    return title;
  };
  const create = async (text: string) => {
    const r = await env.api('POST', '/api/v1/tasks', { repos: [{ name: 'proj' }], harness: 'fake', prompt: { text } });
    assert.equal(r.status, 200, r.body);
    const t = r.json<Task>();
    ids.push(t.id);
    return t;
  };

  /** Waits until the stub has more than `n` requests. */
  const waitForRequest = async (n: number) => {
    for (const deadline = Date.now() + 30_000; stub.requests.length <= n; await new Promise((r) => setTimeout(r, 20))) {
      assert.ok(Date.now() < deadline, 'the title request reached the stub');
    }
  };

  before(async () => {
    stub = await anthropicStub();
    env = await taskEnv({ extraConfig: `[titles]\nprovider = "anthropic"\nurl = "${stub.url}"\n[harness.claude.env]\nANTHROPIC_API_KEY = "${KEY}"\n` });
    list = new SseClient(`${env.d.url}/api/v1/tasks/events`);
  });
  after(async () => {
    list?.close();
    await env?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('the first line is the title at once; the model names the task; the list stream hears it', async () => {
    stub.hold = true; // so the first-line title can be seen before the model's
    const t = await create('## Fix the `login` page:\n\nFAKE_DEMO, then tell me');
    assert.equal(t.title, 'Fix the login page');
    await list.waitFor(() => streamedTitle(t.id) === 'Fix the login page', 10_000, 'the first-line title on the task-list stream');
    await waitForRequest(0);
    stub.release();
    await list.waitFor(() => streamedTitle(t.id) === 'Login page fix', 30_000, 'the model title on the task-list stream');
    assert.equal((await get(t.id)).title, 'Login page fix');
    const req = stub.requests[0]!;
    assert.equal(req.headers['x-api-key'], KEY);
    assert.equal(req.headers['anthropic-version'], '2023-06-01');
    assert.equal(req.body.model, 'claude-haiku-4-5');
    assert.match(req.body.messages[0]!.content, /Fix the `login` page/);
    assert.match(await logText(t.id), /\{"type":"caic_title","title":"Login page fix","by":"model"\}/);
    assert.ok(!env.d.logs.text.includes(KEY), 'the key never reaches a log');
  });

  test('a rename wins and reaches the list stream; bad titles are refused and change nothing', async () => {
    const id = ids[0]!;
    const r = await env.api('PATCH', `/api/v1/tasks/${id}`, { title: '  My own name  ' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json<Task>().title, 'My own name');
    await list.waitFor(() => streamedTitle(id) === 'My own name', 10_000, 'the rename on the task-list stream');
    for (const [body, status] of [
      [{ title: '' }, 400],
      [{ title: '   ' }, 400],
      [{ title: 'two\nlines' }, 400],
      [{ title: 'bell\u0007' }, 400],
      [{ title: 'x'.repeat(201) }, 400],
      [{ title: 42 }, 400],
      [{}, 400],
    ] as const) {
      const bad = await env.api('PATCH', `/api/v1/tasks/${id}`, body);
      assert.equal(bad.status, status, `${JSON.stringify(body)}: ${bad.body}`);
      assert.equal(bad.json<{ error: { code: string } }>().error.code, 'BAD_REQUEST');
    }
    assert.equal((await env.api('PATCH', '/api/v1/tasks/01jzzzzzzzzzzzzzzzzzzzzzzz', { title: 'x' })).status, 404);
    assert.equal((await env.api('PATCH', '/api/v1/tasks/NOT-AN-ID', { title: 'x' })).status, 400);
    assert.equal((await get(id)).title, 'My own name');
  });

  test('a rename before the model answers is kept when the answer comes', async () => {
    stub.hold = true;
    const before = stub.requests.length;
    const t = await create('Refactor the session store');
    await waitForRequest(before);
    assert.equal((await env.api('PATCH', `/api/v1/tasks/${t.id}`, { title: 'Chosen by me' })).status, 200);
    stub.release();
    // The model's answer is logged (it ranks below the user's) and changes nothing.
    for (const deadline = Date.now() + 30_000; !(await logText(t.id)).includes('"by":"model"'); await new Promise((r) => setTimeout(r, 20))) {
      assert.ok(Date.now() < deadline, 'the model title was recorded');
    }
    assert.equal((await get(t.id)).title, 'Chosen by me', await logText(t.id));
    // The list stream is a separate connection: on a loaded machine its patch can trail the GET.
    await list.waitFor(() => streamedTitle(t.id) === 'Chosen by me', 10_000, 'the rename on the task-list stream');
  });

  test('titles survive purge and restart; a purged task can still be renamed', async () => {
    const [first, second] = ids as [string, string];
    for (const deadline = Date.now() + 60_000; !['waiting', 'failed'].includes((await get(first)).state); await new Promise((r) => setTimeout(r, 50))) {
      assert.ok(Date.now() < deadline, 'the first task settled');
    }
    assert.equal((await env.api('POST', `/api/v1/tasks/${first}/purge`)).status, 200);
    assert.equal((await env.api('PATCH', `/api/v1/tasks/${first}`, { title: 'Renamed after purge' })).status, 200);
    list.close();
    await env.restart();
    const titles = Object.fromEntries((await env.api('GET', '/api/v1/tasks')).json<Task[]>().map((t) => [t.id, t.title]));
    assert.equal(titles[first], 'Renamed after purge');
    assert.equal(titles[second], 'Chosen by me');
  });
});
