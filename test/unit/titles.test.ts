// Task titles: the cleaned first line, model titles over each provider's real wire format (a local
// stand-in), the ranks (a user's rename beats anything generated), and a restarted daemon listing
// the latest title from a log's tail without a replay.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HARNESSES, type AgentParser, type CodexParser, type Harness } from '../../src/agents/index.js';
import type { HarnessName } from '../../src/api/index.js';
import { replayLog, resolveTitleModel, TitleModel, Transcript } from '../../src/tasks/index.js';
import { cleanTitle, titleFromModel, titleFromPrompt, type TitleProvider } from '../../src/tasks/titles.js';
import { offlineService } from '../helpers/offline-service.js';
import { tempDir } from '../helpers/tmp.js';

test('the provisional title is the first line without Markdown, one line, at most 80 characters', () => {
  const cases: [string, string][] = [
    ['hello there', 'hello there'],
    ['\n\n  ## Fix the `login` page:\n\nmore text', 'Fix the login page'],
    ['- [ ] **Add** a [link](https://example.com/x) to the README', '[ ] Add a link to the README'],
    ['1. first step', 'first step'],
    ['> quoted ask', 'quoted ask'],
    ['tabs\tand\u0007bells\u001b[31m red', 'tabs and bells [31m red'],
    ['', 'Untitled task'],
    ['   \n  \n', 'Untitled task'],
    ['![only an image](x.png)', 'only an image'],
  ];
  for (const [prompt, want] of cases) assert.equal(titleFromPrompt(prompt), want, JSON.stringify(prompt));
  const long = titleFromPrompt(`Refactor ${'the module '.repeat(20)}now`);
  assert.ok(long.length <= 80 && long.endsWith('…') && !long.includes('  '), long);
  assert.ok(!/\s…$/.test(long), 'cut at a word, no space before the ellipsis');
  assert.equal(cleanTitle('x'.repeat(200)).length, 80, 'a word longer than the limit is cut inside');
  assert.equal(cleanTitle('invoice\u202Efdp.exe \u2067x\u2069\u200b\ufeff'), 'invoicefdp.exe x', 'no direction overrides or invisible characters');
  assert.equal(cleanTitle('עברית \u200f👩\u200d💻'), 'עברית \u200f👩\u200d💻', 'right-to-left text, marks and emoji sequences stay');
});

test("a model's answer becomes a title: first line, no quotes, label or final period", () => {
  const cases: [string, string][] = [
    ['"Fix login page redirect."', 'Fix login page redirect'],
    ['Title: Add dark mode\n\nThis title says…', 'Add dark mode'],
    ['**Title:** `Speed up tests`', 'Speed up tests'],
    ['“Réparer la page de connexion”', 'Réparer la page de connexion'],
    ['\n\n', ''],
  ];
  for (const [answer, want] of cases) assert.equal(titleFromModel(answer), want, JSON.stringify(answer));
});

test('[titles]: auto takes the first provider with a key; a named one needs its key; off is off', () => {
  const keys = (set: Partial<Record<TitleProvider, string>>) => (p: TitleProvider) => set[p];
  const auto = { provider: 'auto', model: '', url: '' };
  assert.equal(resolveTitleModel(auto, keys({})), null);
  assert.deepEqual(resolveTitleModel(auto, keys({ openai: 'sk-o', gemini: 'g' })), { provider: 'openai', apiKey: 'sk-o', url: 'https://api.openai.com', model: 'gpt-4.1-nano' });
  assert.equal(resolveTitleModel(auto, keys({ anthropic: 'a', openai: 'o' }))?.provider, 'anthropic');
  assert.equal(resolveTitleModel({ ...auto, provider: 'gemini' }, keys({ anthropic: 'a' })), null);
  assert.equal(resolveTitleModel({ ...auto, provider: 'off' }, keys({ anthropic: 'a' })), null);
  assert.deepEqual(resolveTitleModel({ provider: 'anthropic', model: 'claude-x', url: 'http://127.0.0.1:9/' }, keys({ anthropic: 'a' })), {
    provider: 'anthropic',
    apiKey: 'a',
    url: 'http://127.0.0.1:9',
    model: 'claude-x',
  });
});

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** One stand-in for the three APIs: answers each path in its provider's format. */
async function modelStub(answer: (seen: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** Each provider's answer shape, as its API sends it. */
function answerAs(s: Seen, res: ServerResponse, text: string): void {
  if (s.path === '/v1/messages') {
    return json(res, 200, { id: 'msg_1', type: 'message', role: 'assistant', model: s.body.model, content: [{ type: 'text', text }], stop_reason: 'end_turn', usage: { input_tokens: 30, output_tokens: 6 } });
  }
  if (s.path === '/v1/chat/completions') {
    return json(res, 200, { id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }] });
  }
  if (s.path.startsWith('/v1beta/models/')) {
    return json(res, 200, { candidates: [{ content: { role: 'model', parts: [{ text: text.slice(0, 5) }, { text: text.slice(5) }] }, finishReason: 'STOP' }] });
  }
  json(res, 404, { error: { message: 'no such path' } });
}

test('model titles over the Anthropic, OpenAI and Gemini wire formats', async () => {
  const stub = await modelStub((s, res) => answerAs(s, res, '"Fix the login redirect."'));
  try {
    const prompt = `Please fix the login redirect\n${'context '.repeat(1_000)}`;
    for (const provider of ['anthropic', 'openai', 'gemini'] as const) {
      const failures: string[] = [];
      const model = new TitleModel(resolveTitleModel({ provider, model: '', url: stub.url }, () => `key-${provider}-secret`)!, (m) => failures.push(m));
      assert.equal(await model.title(prompt), 'Fix the login redirect', provider);
      assert.deepEqual(failures, []);
      const s = stub.seen.at(-1)!;
      assert.equal(s.method, 'POST');
      assert.equal(s.headers['content-type'], 'application/json');
      const sent = JSON.stringify(s.body);
      assert.ok(sent.includes('Please fix the login redirect'), 'the prompt is sent');
      assert.ok(sent.length < 6_000, `the prompt is cut (${sent.length} bytes sent)`);
      if (provider === 'anthropic') {
        assert.equal(s.path, '/v1/messages');
        assert.equal(s.headers['x-api-key'], 'key-anthropic-secret');
        assert.equal(s.headers['anthropic-version'], '2023-06-01');
        assert.equal(s.body.model, 'claude-haiku-4-5');
        assert.equal(typeof s.body.max_tokens, 'number');
        assert.equal((s.body.messages as { role: string }[])[0]!.role, 'user');
      } else if (provider === 'openai') {
        assert.equal(s.path, '/v1/chat/completions');
        assert.equal(s.headers.authorization, 'Bearer key-openai-secret');
        assert.equal(s.body.model, 'gpt-4.1-nano');
        assert.deepEqual((s.body.messages as { role: string }[]).map((m) => m.role), ['system', 'user']);
      } else {
        assert.equal(s.path, '/v1beta/models/gemini-2.5-flash-lite:generateContent');
        assert.equal(s.headers['x-goog-api-key'], 'key-gemini-secret');
        assert.ok(s.body.contents && s.body.systemInstruction);
      }
    }
  } finally {
    await stub.close();
  }
});

test('a failing model gives no title and a message without the key; an abort is silent', async () => {
  let mode = 'error';
  const stub = await modelStub((s, res) => {
    if (mode === 'error') return json(res, 401, { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${String(s.headers['x-api-key'])}` } });
    if (mode === 'html') return (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html>proxy login</html>'));
    if (mode === 'empty') return answerAs(s, res, '  \n');
    if (mode === 'shape') return json(res, 200, { content: 'not a list' });
    // hang: never answers (the abort ends it)
  });
  try {
    const failures: string[] = [];
    const model = new TitleModel({ provider: 'anthropic', apiKey: 'sk-ant-very-secret', url: stub.url, model: 'm' }, (m) => failures.push(m));
    for (const m of ['error', 'html', 'empty', 'shape']) {
      mode = m;
      assert.equal(await model.title('do it'), null, m);
    }
    assert.deepEqual(failures, ['anthropic m: HTTP 401', 'anthropic m: no title in the answer', 'anthropic m: no title in the answer', 'anthropic m: no title in the answer']);
    mode = 'hang';
    const abort = new AbortController();
    const pending = model.title('do it', abort.signal);
    for (const deadline = Date.now() + 10_000; stub.seen.length < 5; await new Promise((r) => setTimeout(r, 5))) {
      assert.ok(Date.now() < deadline, 'the request reached the stub');
    }
    abort.abort();
    assert.equal(await pending, null);
    assert.equal(failures.length, 4, 'an abort (daemon shutdown) is not a failure');
    const down = new TitleModel({ provider: 'openai', apiKey: 'k', url: 'http://127.0.0.1:1', model: 'm' }, (m) => failures.push(m));
    assert.equal(await down.title('x'), null);
    assert.match(failures.at(-1)!, /^openai m: /);
    assert.ok(failures.every((f) => !f.includes('secret')));
  } finally {
    await stub.close();
  }
});

// ---- ranks in the transcript and in the log's tail ---------------------------------------------

const meta = (harness: HarnessName, title = 'first line', id = 't1') =>
  JSON.stringify({ type: 'caic_meta', version: 1, id, title, prompt: title, repos: [], harness, model: 'm', sudo: false, owner: '', ownerName: '', createdAt: '2026-11-02T10:00:00.000Z' });
const titleRec = (title: string, by: string) => JSON.stringify({ type: 'caic_title', title, by });

/** A harness whose agent names its session (as Codex and OpenCode do), from a `{"name":…}` line. */
function namingHarness(): ReadonlyMap<HarnessName, Harness> {
  const base = HARNESSES.get('fake')!;
  const newParser = (): AgentParser => {
    let title = '';
    const inner = base.newParser({ model: 'm' });
    return {
      parse: (line) => {
        const m = /^\{"name":"(.*)"\}$/.exec(line);
        if (m) return ((title = m[1]!), []);
        return inner.parse(line);
      },
      get title() {
        return title;
      },
      get sessionId() {
        return inner.sessionId;
      },
      get ready() {
        return inner.ready;
      },
    };
  };
  return new Map([['fake', { ...base, newParser }]]);
}

test('title ranks: model < agent < user, the later of equal ranks wins, and replay agrees', async () => {
  const harnesses = namingHarness();
  const lines = [
    meta('fake', 'FAKE_DEMO do the thing'),
    JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }),
    titleRec('Model title', 'model'),
    '{"name":"Agent named it"}',
    titleRec('A later model title', 'model'),
    titleRec('Mine', 'user'),
    '{"name":"Agent renamed it"}',
    titleRec('Mine\u0000, really\nnow', 'user'),
    titleRec('Model once more', 'model'),
    titleRec('', 'user'),
    titleRec('Forged', 'nobody'),
  ];
  const t = new Transcript(harnesses);
  const seen: string[] = [];
  for (const l of lines) {
    t.ingest(l);
    seen.push(`${t.summary.titleBy}:${t.summary.title}`);
  }
  assert.deepEqual(seen, [
    'prompt:FAKE_DEMO do the thing',
    'prompt:FAKE_DEMO do the thing',
    'model:Model title',
    'agent:Agent named it',
    'agent:Agent named it',
    'user:Mine',
    'user:Mine',
    'user:Mine , really now',
    'user:Mine , really now',
    'user:Mine , really now',
    'user:Mine , really now',
  ]);
  await using dir = await tempDir('caic-titles-');
  const path = join(dir.path, 'log.jsonl');
  await writeFile(path, `${lines.join('\n')}\n`);
  assert.equal((await replayLog(path, harnesses)).summary.title, 'Mine , really now', 'replay gives the same title');
});

test("Codex's thread name is the agent's title", () => {
  const codex = HARNESSES.get('codex')!;
  const t = new Transcript(HARNESSES);
  t.ingest(meta('codex', 'fix it'));
  t.ingest(JSON.stringify({ type: 'caic_session', n: 1, reason: 'start' }));
  t.ingest(JSON.stringify({ method: 'thread/name/updated', params: { threadId: 'th1', threadName: 'Fix flaky login test' } }));
  assert.equal(t.summary.title, 'Fix flaky login test');
  assert.equal(t.summary.titleBy, 'agent');
  t.ingest(JSON.stringify({ method: 'thread/name/updated', params: { threadId: 'th1', threadName: null } }));
  assert.equal(t.summary.title, 'Fix flaky login test', 'a cleared name keeps the title');
  const p = codex.newParser({ model: 'gpt' }) as CodexParser;
  assert.deepEqual(p.parse(JSON.stringify({ method: 'thread/name/updated', params: { threadId: 'th1', threadName: 'X' } })), [], 'no event');
  assert.equal(p.title, 'X');
});

test("a restarted daemon lists the latest title from the log's tail; a rename after purge sticks", async () => {
  await using dir = await tempDir('caic-titles-');
  await mkdir(join(dir.path, 'config'), { recursive: true });
  const logs = join(dir.path, 'tasks');
  await mkdir(logs, { recursive: true });
  const summary = (title: string, titleBy?: string) => ({ title, ...(titleBy ? { titleBy } : {}), costUSD: 0, durationMs: 0, numTurns: 0, tokens: {}, diffStat: [], model: 'm' });
  const id = '01jaaaaaaaaaaaaaaaaaaaaaaa';
  const log = join(logs, `${id}.jsonl`);
  await writeFile(
    log,
    [
      meta('fake', 'FAKE_DEMO go', id),
      titleRec('Generated', 'model'),
      JSON.stringify({ type: 'caic_state', state: 'waiting', summary: summary('Generated', 'model'), lastEventId: 0 }),
      titleRec('Renamed while running', 'user'),
      JSON.stringify({ type: 'caic_state', state: 'purging', summary: summary('Renamed while running', 'user'), lastEventId: 0 }),
      JSON.stringify({ type: 'caic_state', state: 'purged', summary: summary('Renamed while running', 'user'), lastEventId: 0 }),
      JSON.stringify({ type: 'caic_result', state: 'purged', summary: summary('Renamed while running', 'user'), lastEventId: 1 }),
      titleRec('A model late to the party', 'model'),
      '',
    ].join('\n'),
  );
  let service = await offlineService(dir.path);
  assert.equal(service.get(id, null).title, 'Renamed while running', 'a model title after a rename loses, in the tail too');
  const renamed = await service.rename(id, 'Renamed after purge', null);
  assert.equal(renamed.title, 'Renamed after purge');
  assert.equal(renamed.state, 'purged');
  await service.close();
  service = await offlineService(dir.path);
  assert.equal(service.get(id, null).title, 'Renamed after purge', 'from the tail, after the trailer');
  await assert.rejects(service.rename('01jzzzzzzzzzzzzzzzzzzzzzzz', 'x', null), /no task/);
  await service.close();

  // A log from before titles had sources (no titleBy): a generated title still replaces the prompt.
  const old = '01jbbbbbbbbbbbbbbbbbbbbbbb';
  const oldSummary = summary('FAKE_DEMO go');
  await writeFile(
    join(logs, `${old}.jsonl`),
    [meta('fake', 'FAKE_DEMO go', old), JSON.stringify({ type: 'caic_state', state: 'stopped', summary: oldSummary, lastEventId: 0 }), titleRec('Demo run', 'model'), ''].join('\n'),
  );
  service = await offlineService(dir.path);
  assert.equal(service.get(old, null).title, 'Demo run');
  await service.close();
});
