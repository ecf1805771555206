// The fake agent: a scripted stand-in for Claude Code that speaks its stream-json wire format.
// It runs in the container under the relay like a real agent (compiled to one standalone module,
// Node 18 APIs only). Keywords in a prompt pick a scenario:
//   FAKE_ASK   AskUserQuestion       FAKE_PLAN  writes a plan, ExitPlanMode
//   FAKE_DEMO  Bash/Write/Edit on real files in the working directory
//   FAKE_ERROR an error result       FAKE_LONG <events> <per second> [stamp]  a long streamed run
//              (with `stamp`, each delta carries the time it was written: `<i>@<epoch ms> `)
//   FAKE_CRASH exits at once, before it says anything, with a reason on stderr (an agent that
//              cannot start: no credentials, a broken install)
//   FAKE_PRINT_ENV <NAME> [file]  prints a variable of ~/.env with a Bash tool call, then repeats its
//              value in its reply (streamed in 12-character deltas) and result (a secret an agent leaks: caic must mask it everywhere);
//              with `file` it also writes it into leak.txt (the safety scan must find it)
//   FAKE_CI    writes CI_WORK.md; then each input that reports a CI failure (caic's summary
//              starts "CI failed") appends a fix line to it, as an agent fixing its PR would
//   FAKE_SERVE <port>  starts a small dev server on 127.0.0.1:<port> in this process (see serve()):
//              a page with absolute-path assets, a WebSocket echo, and probes for the preview tests
//   FAKE_COMMIT <name>  writes <name>.txt and commits it (git add + commit in the working directory)
// Every prompt it takes is appended to ~/.fake-agent/prompts.jsonl ({"text": ...} per line), so a
// test can check exactly what the agent received.
// Anything else gets a streamed reply and a result with a small cost. A stream-json interrupt
// (control_request) ends the running turn the way Claude Code does.
import { execSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const argv = process.argv.slice(2);
const resumeAt = argv.indexOf('--resume');
const sessionId = resumeAt >= 0 && argv[resumeAt + 1] ? argv[resumeAt + 1]! : randomUUID();
const modelAt = argv.indexOf('--model');
const model = modelAt >= 0 && argv[modelAt + 1] ? argv[modelAt + 1]! : 'fake-model';
const cwd = process.cwd();
let turns = 0;
let totalCost = 0;
let initSent = false;
/** Set by an interrupt; the running turn stops at its next step. */
let interrupted = false;

class Interrupted extends Error {}

const emit = (obj: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...obj, session_id: sessionId, uuid: randomUUID() })}\n`);
const sleep = async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  if (interrupted) throw new Interrupted();
};
const toolId = () => `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });

function init(): void {
  if (initSent) return;
  initSent = true;
  emit({
    type: 'system',
    subtype: 'init',
    cwd,
    tools: ['Bash', 'Read', 'Write', 'Edit', 'AskUserQuestion', 'TodoWrite', 'ExitPlanMode'],
    mcp_servers: [],
    model,
    permissionMode: 'bypassPermissions',
    claude_code_version: '0.0.0-fake',
  });
}

async function streamText(text: string, delayMs = 5): Promise<void> {
  emit({ type: 'stream_event', event: { type: 'message_start', message: { model, role: 'assistant' } }, parent_tool_use_id: null });
  emit({ type: 'stream_event', event: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, parent_tool_use_id: null });
  for (const piece of text.match(/.{1,12}/gs) ?? []) {
    emit({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }, parent_tool_use_id: null });
    if (delayMs) await sleep(delayMs);
  }
  emit({ type: 'stream_event', event: { type: 'content_block_stop', index: 0 }, parent_tool_use_id: null });
  assistant([{ type: 'text', text }]);
}

function assistant(content: unknown[], inTokens = 120, outTokens = 40): void {
  emit({
    type: 'assistant',
    message: { id: `msg_${randomUUID().slice(0, 8)}`, type: 'message', role: 'assistant', model, content, stop_reason: null, usage: usage(inTokens, outTokens) },
    parent_tool_use_id: null,
  });
}

function toolResult(id: string, content: string, isError = false): void {
  emit({ type: 'user', message: { role: 'user', content: [{ tool_use_id: id, type: 'tool_result', content, is_error: isError }] }, parent_tool_use_id: null });
}

function result(text: string, started: number, isError = false): void {
  turns++;
  const cost = 0.0012;
  totalCost += cost;
  emit({
    type: 'result',
    subtype: isError ? 'error_during_execution' : 'success',
    is_error: isError,
    duration_ms: Date.now() - started,
    duration_api_ms: Date.now() - started,
    num_turns: turns,
    result: text,
    total_cost_usd: Math.round(totalCost * 1e6) / 1e6,
    usage: usage(120, 40),
  });
}

function tool(name: string, input: Record<string, unknown>, run: () => { out: string; error?: boolean }): void {
  const id = toolId();
  assistant([{ type: 'tool_use', id, name, input }]);
  const { out, error } = run();
  toolResult(id, out, error);
}

async function demo(started: number): Promise<void> {
  await streamText("I'll look at the repository and make a small change.");
  tool('TodoWrite', { todos: [{ content: 'Inspect files', status: 'in_progress', activeForm: 'Inspecting files' }, { content: 'Add a note', status: 'pending', activeForm: 'Adding a note' }] }, () => ({ out: 'Todos updated' }));
  tool('Bash', { command: 'ls -1 | head -20', description: 'List files' }, () => {
    try {
      return { out: execSync('ls -1 | head -20', { cwd, encoding: 'utf8' }) };
    } catch (err) {
      return { out: String(err), error: true };
    }
  });
  const notes = join(cwd, 'FAKE_NOTES.md');
  tool('Write', { file_path: notes, content: '# Notes\n\nWritten by the fake agent.\n' }, () => {
    writeFileSync(notes, '# Notes\n\nWritten by the fake agent.\n');
    return { out: `File created successfully at: ${notes}` };
  });
  const readme = ['README.md', 'README', 'readme.md'].map((f) => join(cwd, f)).find((f) => existsSync(f));
  if (readme) {
    tool('Edit', { file_path: readme, old_string: '', new_string: '\nEdited by the fake agent.\n' }, () => {
      writeFileSync(readme, `${readFileSync(readme, 'utf8')}\nEdited by the fake agent.\n`);
      return { out: `The file ${readme} has been updated.` };
    });
  }
  tool('TodoWrite', { todos: [{ content: 'Inspect files', status: 'completed', activeForm: 'Inspecting files' }, { content: 'Add a note', status: 'completed', activeForm: 'Adding a note' }] }, () => ({ out: 'Todos updated' }));
  await streamText('Done: I added FAKE_NOTES.md' + (readme ? ' and edited the README.' : '.'));
  result('Added FAKE_NOTES.md.', started);
}

/** What the agent received, for tests (best effort: a read-only home loses nothing else). */
function logPrompt(text: string): void {
  try {
    const dir = join(homedir(), '.fake-agent');
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, 'prompts.jsonl'), `${JSON.stringify({ text })}\n`);
  } catch {
    /* not essential */
  }
}

async function handle(text: string): Promise<void> {
  logPrompt(text);
  if (text.includes('FAKE_CRASH') && !initSent) {
    process.stderr.write('fake agent: cannot start (FAKE_CRASH): no credentials configured\n', () => process.exit(3));
    return;
  }
  init();
  interrupted = false;
  const started = Date.now();
  try {
    // The history caic puts into a restarted or forked session's prompt is context, not orders.
    await scenario(text.replace(/<earlier-conversation>[\s\S]*?<\/earlier-conversation>/g, '').trim(), started);
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    // What Claude Code writes when a turn is interrupted.
    emit({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user]' }] }, parent_tool_use_id: null });
    emit({ type: 'result', subtype: 'error_during_execution', is_error: true, terminal_reason: 'aborted_streaming', duration_ms: Date.now() - started, duration_api_ms: 0, num_turns: ++turns, total_cost_usd: Math.round(totalCost * 1e6) / 1e6, usage: usage(0, 0) });
  } finally {
    interrupted = false;
  }
}

/** FAKE_CI was in the first prompt: CI failure reports get a "fix". */
let ciMode = false;

async function scenario(text: string, started: number): Promise<void> {
  if (ciMode && /^CI failed/m.test(text)) {
    const file = join(cwd, 'CI_WORK.md');
    const line = `fix ${turns + 1}\n`;
    tool('Edit', { file_path: file, old_string: '', new_string: line }, () => {
      writeFileSync(file, `${existsSync(file) ? readFileSync(file, 'utf8') : ''}${line}`);
      return { out: `The file ${file} has been updated.` };
    });
    result('Fixed the failing check.', started);
  } else if (text.includes('FAKE_CI')) {
    ciMode = true;
    const file = join(cwd, 'CI_WORK.md');
    tool('Write', { file_path: file, content: '# Work\n' }, () => {
      writeFileSync(file, '# Work\n');
      return { out: `File created successfully at: ${file}` };
    });
    result('Wrote CI_WORK.md.', started);
  } else if (/FAKE_COMMIT\s+([\w.-]+)/.test(text)) {
    const name = /FAKE_COMMIT\s+([\w.-]+)/.exec(text)![1]!;
    const file = join(cwd, `${name}.txt`);
    tool('Bash', { command: `git add ${name}.txt && git commit -m ${name}`, description: 'Commit' }, () => {
      writeFileSync(file, `${name}\n`);
      try {
        return { out: execSync(`git add -- "${name}.txt" && git -c user.name=fake -c user.email=fake@localhost commit -q -m "${name}" && git rev-parse HEAD`, { cwd, encoding: 'utf8' }) };
      } catch (err) {
        return { out: String(err), error: true };
      }
    });
    result(`Committed ${name}.txt.`, started);
  } else if (text.includes('FAKE_ASK')) {
    await streamText('I need a decision before I continue.');
    assistant([
      {
        type: 'tool_use',
        id: toolId(),
        name: 'AskUserQuestion',
        input: {
          questions: [
            {
              question: 'Which database should I use?',
              header: 'Database',
              options: [
                { label: 'PostgreSQL', description: 'Robust and scalable' },
                { label: 'SQLite', description: 'Simple, one file' },
              ],
              multiSelect: false,
            },
          ],
        },
      },
    ]);
    result('Waiting for your answer.', started);
  } else if (text.includes('FAKE_PLAN')) {
    const dir = join(homedir(), '.claude', 'plans');
    mkdirSync(dir, { recursive: true });
    const plan = '# Plan\n\n1. Add a note file.\n2. Edit the README.\n';
    tool('Write', { file_path: join(dir, 'fake-plan.md'), content: plan }, () => {
      writeFileSync(join(dir, 'fake-plan.md'), plan);
      return { out: 'File created successfully' };
    });
    assistant([{ type: 'tool_use', id: toolId(), name: 'ExitPlanMode', input: { plan } }]);
    result('Plan ready.', started);
  } else if (text.includes('FAKE_SERVE')) {
    const port = Number(/FAKE_SERVE\s+(\d+)/.exec(text)?.[1] ?? '3000');
    const id = toolId();
    assistant([{ type: 'tool_use', id, name: 'Bash', input: { command: `serve on port ${port}`, description: 'Start the dev server' } }]);
    const err = await serve(port);
    toolResult(id, err ?? `listening on 127.0.0.1:${port}`, err !== null);
    await streamText(err ? `The server did not start: ${err}` : `The app is served on port ${port}.`);
    result(err ? 'Server failed.' : `Serving on ${port}.`, started, err !== null);
  } else if (text.includes('FAKE_PRINT_ENV')) {
    const name = /FAKE_PRINT_ENV\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(text)?.[1] ?? 'HOME';
    let value = '';
    tool('Bash', { command: `printenv ${name}`, description: `Print ${name}` }, () => {
      try {
        // ~/.env is where caic writes secrets; a bash loads it (BASH_ENV), as an agent's Bash tool would.
        value = execSync(`. ~/.env 2>/dev/null; printf %s "$${name}"`, { cwd, encoding: 'utf8', shell: '/bin/bash' });
        return { out: value };
      } catch (err) {
        return { out: String(err), error: true };
      }
    });
    if (/FAKE_PRINT_ENV\s+\S+\s+file/.test(text)) {
      const file = join(cwd, 'leak.txt');
      tool('Write', { file_path: file, content: `${name}=${value}\n` }, () => {
        writeFileSync(file, `${name}=${value}\n`);
        return { out: `File created successfully at: ${file}` };
      });
    }
    // Streamed in pieces, as a model would write it: the value is split across deltas.
    await streamText(`The value of ${name} is ${value}.`, 0);
    result(`${name}=${value}`, started);
  } else if (text.includes('FAKE_DEMO')) {
    await demo(started);
  } else if (text.includes('FAKE_ERROR')) {
    await streamText('Something is about to go wrong.');
    result('Fake error: the task failed on purpose.', started, true);
  } else if (text.includes('FAKE_LONG')) {
    const [, n = '100', rate = '50', stamp] = /FAKE_LONG\s+(\d+)\s+(\d+)(\s+stamp)?/.exec(text) ?? [];
    const count = Number(n);
    const interval = 1000 / Math.max(1, Number(rate));
    emit({ type: 'stream_event', event: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, parent_tool_use_id: null });
    const t0 = Date.now();
    const pieces: string[] = [];
    for (let i = 0; i < count; i++) {
      const piece = stamp ? `${i}@${Date.now()} ` : `${i} `;
      pieces.push(piece);
      emit({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }, parent_tool_use_id: null });
      const due = t0 + (i + 1) * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      else if (interrupted) throw new Interrupted();
    }
    // Like Claude Code: the complete message repeats what the deltas streamed.
    assistant([{ type: 'text', text: pieces.join('') }]);
    result(`Streamed ${count} events.`, started);
  } else {
    await streamText(`You said: ${text.slice(0, 200)}. Why do programmers prefer dark mode? Because light attracts bugs.`);
    result('Told a joke.', started);
  }
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>fake app</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><h1 id="title">FAKE_SERVE app</h1><p id="ws">connecting</p><script src="/assets/app.js"></script></body></html>
`;
// The page's script: proves it ran, opens a WebSocket to its own host by absolute path, echoes.
const APP_JS = `document.body.dataset.script = 'ran';
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/echo');
ws.onopen = () => ws.send('ping ' + location.host);
ws.onmessage = (e) => { document.getElementById('ws').textContent = 'echo: ' + e.data; };
ws.onerror = () => { document.getElementById('ws').textContent = 'websocket error'; };
`;
const STYLE = '#title { color: rgb(1, 2, 3); }\n';

/** One WebSocket frame from the server (never masked), RFC 6455 §5.2. */
function wsFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x80 | opcode, 127, 0, 0, 0, 0]), Buffer.from([(len >>> 24) & 255, (len >> 16) & 255, (len >> 8) & 255, len & 255])]);
  return Buffer.concat([head, payload]);
}

/** The echo endpoint: the handshake, then every text or binary message comes back; ping → pong; close → close. */
function wsEcho(req: IncomingMessage, socket: Duplex): void {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || req.url !== '/echo') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0]! & 15;
      let len = buf[1]! & 127;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (buf[1]! & 128) !== 0;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
      buf = buf.subarray(off + len);
      if (opcode === 8) {
        socket.end(wsFrame(8, payload.subarray(0, 2)));
        return;
      }
      if (opcode === 9) socket.write(wsFrame(10, payload));
      else if (opcode === 1 || opcode === 2) socket.write(wsFrame(opcode, payload));
    }
  });
}

/**
 * FAKE_SERVE's dev server on 127.0.0.1 (loopback only, as a dev server would): `/` (a page whose
 * assets have absolute paths), `/assets/*`, `/echo` (WebSocket), `/headers` (the request headers as
 * JSON), `/cookies` (sets an own cookie and two that try to leave this host), `/redirect` (an
 * absolute Location at its loopback origin), `/sw.js` (a service worker), `/bytes?mb=N` (N MiB streamed, for the benchmark),
 * `/upload` (counts a streamed body). Resolves null when listening, else the error.
 */
function serve(port: number): Promise<string | null> {
  const chunk = Buffer.alloc(1 << 20, 120);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    if (url.pathname === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else if (url.pathname === '/assets/app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(APP_JS);
    else if (url.pathname === '/assets/style.css') res.writeHead(200, { 'content-type': 'text/css' }).end(STYLE);
    else if (url.pathname === '/headers') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers, url: req.url }));
    else if (url.pathname === '/cookies')
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['app_cookie=1; Path=/', 'caic_session=from-the-app; Path=/', `tossed=1; Domain=${url.searchParams.get('domain') ?? 'localhost'}; Path=/`] }).end('cookies set');
    else if (url.pathname === '/sw.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end("self.addEventListener('install', () => self.skipWaiting());\n");
    else if (url.pathname === '/redirect') res.writeHead(302, { location: `http://localhost:${port}/assets/style.css` }).end();
    else if (url.pathname === '/bytes') {
      let left = Math.min(1024, Math.max(0, Number(url.searchParams.get('mb') ?? '1') || 0));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left * chunk.length) });
      const more = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    } else if (url.pathname === '/upload') {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: n })));
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.on('upgrade', wsEcho);
  return new Promise((resolve) => {
    server.once('error', (err) => resolve(err.message));
    server.listen(port, '127.0.0.1', () => resolve(null));
  });
}

/** Text of a stream-json user message (plain text lines are accepted too). */
function promptText(line: string): string | null {
  try {
    const msg = JSON.parse(line) as { type?: string; message?: { content?: unknown } };
    if (msg.type !== 'user') return null;
    const content = msg.message?.content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) return content.filter((b: { type?: string }) => b?.type === 'text').map((b: { text?: string }) => b.text ?? '').join('\n');
    return '';
  } catch {
    return line;
  }
}

/** A stream-json control request: answered at once, not queued behind the running turn. */
function control(line: string): boolean {
  let msg: { type?: string; request_id?: string; request?: { subtype?: string } };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return false;
  }
  if (msg.type !== 'control_request') return false;
  if (msg.request?.subtype === 'interrupt') interrupted = true;
  emit({ type: 'control_response', response: { subtype: 'success', request_id: msg.request_id ?? '', response: { still_queued: [] } } });
  return true;
}

// Turns run one at a time, in order, like Claude Code.
let queue = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (control(line)) return;
  const text = promptText(line);
  if (text === null) return;
  queue = queue.then(() => handle(text));
});
rl.on('close', () => {
  void queue.then(() => process.exit(0));
});
