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
//              value in its reply and result (a secret an agent leaks: caic must mask it everywhere);
//              with `file` it also writes it into leak.txt (the safety scan must find it)
//   FAKE_CI    writes CI_WORK.md; then each input that reports a CI failure (caic's summary
//              starts "CI failed") appends a fix line to it, as an agent fixing its PR would
// Anything else gets a streamed reply and a result with a small cost. A stream-json interrupt
// (control_request) ends the running turn the way Claude Code does.
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

async function handle(text: string): Promise<void> {
  if (text.includes('FAKE_CRASH') && !initSent) {
    process.stderr.write('fake agent: cannot start (FAKE_CRASH): no credentials configured\n', () => process.exit(3));
    return;
  }
  init();
  interrupted = false;
  const started = Date.now();
  try {
    await scenario(text, started);
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
    assistant([{ type: 'text', text: `The value of ${name} is ${value}.` }]);
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
