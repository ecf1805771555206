// Public surface of src/cli: `caic` as a client of a caic server (login, tasks, run, logs, send,
// diff, sync, stop, revive, purge, logout), built on the typed route table through src/client.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { renderUnicodeCompact } from 'uqr';
import type { HarnessName } from '../api/index.js';
import { ApiError, createClient, type ApiClient } from '../client/index.js';
import { defaultConfigDir, UserError } from '../config/index.js';
import { discover, loginHint, networkReason, NotSignedIn, pollDeviceFlow, registerClient, revoke, Session, startDeviceFlow, storedFrom } from './auth.js';
import { followTask } from './follow.js';
import { checkServerUrl, resolveServer } from './server-url.js';
import { paint, taskTable, useColor, type Style } from './render.js';
import { TokenStore } from './tokens.js';
import { CLIENT_USAGE, type ClientCommand } from './commands.js';

export { CLIENT_COMMANDS, CLIENT_USAGE, isClientCommand, type ClientCommand } from './commands.js';

interface Io {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

/** Runs a client command; resolves with the exit status. Errors are thrown as UserError (one line). */
export async function runClient(argv: string[], io: Io = { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string' },
        insecure: { type: 'boolean' },
        'config-dir': { type: 'string' },
        json: { type: 'boolean' },
        repo: { type: 'string' },
        branch: { type: 'string' },
        agent: { type: 'string' },
        model: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        pr: { type: 'boolean' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [command, ...args] = positionals as [ClientCommand, ...string[]];
  if (v.help) {
    io.stdout.write(CLIENT_USAGE);
    return 0;
  }
  const configDir = v['config-dir'] ?? defaultConfigDir(io.env);
  const insecure = v.insecure ?? false;
  const style: Style = { color: useColor(io.stdout, io.env), width: (io.stdout.isTTY && io.stdout.columns) || 100 };
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const need = (n: number, what: string) => {
    if (args.length < n) throw new UsageError(`caic ${command} needs ${what}`);
  };

  if (command === 'login' || command === 'logout') {
    if (args.length > 1) throw new UsageError(`caic ${command} takes one URL`);
    const server = args[0] !== undefined ? checkServerUrl(args[0], insecure) : resolveServer({ server: v.server, insecure, configDir, env: io.env });
    return command === 'login' ? login(server, configDir, io, style) : logout(server, configDir, out);
  }

  const server = resolveServer({ server: v.server, insecure, configDir, env: io.env });
  const session = new Session(server, new TokenStore(configDir, server));
  const api = withErrors(createClient({ base: server, fetch: session.fetch }), server);
  const json = v.json ?? false;

  switch (command) {
    case 'tasks': {
      const tasks = await api('listTasks');
      if (json) out(JSON.stringify(tasks, null, 2));
      else if (tasks.length === 0) err('no tasks');
      else for (const line of taskTable(tasks, style, Date.now())) out(line);
      return 0;
    }
    case 'run': {
      need(1, 'a prompt');
      if (!v.repo) throw new UsageError('caic run needs --repo (a repository under the server’s root; see the web UI or GET /api/v1/server/repos)');
      const harness = (v.agent ?? (await pickAgent(api))) as HarnessName;
      const task = await api('createTask', {
        body: { prompt: { text: args.join(' ') }, repos: [{ name: v.repo, ...(v.branch ? { baseBranch: v.branch } : {}) }], harness, ...(v.model ? { model: v.model } : {}) },
      });
      if (json && !v.follow) out(JSON.stringify(task, null, 2));
      else out(task.id);
      if (!v.follow) return 0;
      return follow(task.id, true);
    }
    case 'logs':
      need(1, 'a task id');
      return follow(args[0]!, v.follow ?? false);
    case 'send':
      need(2, 'a task id and the text');
      await api('taskInput', { params: { id: args[0]! }, body: { prompt: { text: args.slice(1).join(' ') } } });
      return 0;
    case 'diff': {
      need(1, 'a task id');
      const d = await api('taskDiff', { params: { id: args[0]! } });
      if (!d.diff) {
        err('no changes');
        return 0;
      }
      if (io.stdout.isTTY) await page(d.diff, io);
      else io.stdout.write(d.diff.endsWith('\n') ? d.diff : `${d.diff}\n`);
      return 0;
    }
    case 'sync': {
      need(1, 'a task id');
      const r = await api('taskSync', { params: { id: args[0]! }, body: { ...(v.pr ? { target: 'pr' as const } : {}), ...(v.force ? { force: true } : {}) } });
      if (json) out(JSON.stringify(r, null, 2));
      else if (r.status === 'synced') out(`pushed ${r.branch} (${r.diffStat.length} file${r.diffStat.length === 1 ? '' : 's'} changed)${r.forge ? `: ${r.forge.url}` : ''}`);
      else if (r.status === 'empty') out(`nothing to push: ${r.branch} has no changes`);
      if (r.status === 'blocked') {
        if (!json) for (const i of r.safetyIssues) err(`${i.file}: ${i.kind === 'secret' ? 'secret' : 'large binary'}: ${i.detail}`);
        err(`caic: not pushed: the changes hold ${r.safetyIssues.length} problem${r.safetyIssues.length === 1 ? '' : 's'}; check them, then caic sync ${args[0]} --force`);
        return 1;
      }
      return 0;
    }
    case 'stop':
    case 'revive':
    case 'purge': {
      need(1, 'a task id');
      const route = ({ stop: 'taskStop', revive: 'taskRevive', purge: 'taskPurge' } as const)[command];
      const r = await api(route, { params: { id: args[0]! } });
      if (json) out(JSON.stringify(r));
      else out(`${args[0]}: ${r.status}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${String(command)}"`);
  }

  async function follow(id: string, f: boolean): Promise<number> {
    await followTask({
      server,
      api,
      fetch: session.fetch,
      id,
      follow: f,
      json: v.json ?? false,
      interactive: Boolean(io.stdin.isTTY && io.stdout.isTTY),
      style,
      out,
      err,
      input: io.stdin,
      output: io.stdout,
    });
    return 0;
  }
}

/** Wrong arguments: exit status 2 with the usage. */
export class UsageError extends UserError {}

/** API errors become one line with the server's message; a 401 says how to sign in. */
function withErrors(api: ApiClient, server: string): ApiClient {
  const wrapped: ApiClient = async (name, args, init) => {
    try {
      return await api(name, args, init);
    } catch (err) {
      if (err instanceof NotSignedIn || err instanceof UserError) throw err;
      if (err instanceof ApiError) {
        if (err.status === 401) throw new NotSignedIn(`${server}: ${err.message}: ${loginHint(server)}`);
        throw new UserError(err.message);
      }
      throw new UserError(`${server}: ${networkReason(err)}`);
    }
  };
  return wrapped;
}

/** Without --agent: the first agent the server says is ready. */
async function pickAgent(api: ApiClient): Promise<string> {
  const agents = await api('harnesses');
  const ready = agents.find((a) => a.ready);
  if (ready) return ready.name;
  throw new UserError(`no agent is ready on the server: ${agents.map((a) => `${a.name}: ${a.reason ?? 'not ready'}`).join('; ')}`);
}

/** Shows text through $PAGER (default `less -FRX`, which exits at once when it fits the screen). */
async function page(text: string, io: Io): Promise<void> {
  const pager = io.env.PAGER || 'less';
  const child = spawn(pager, [], { stdio: ['pipe', 'inherit', 'inherit'], shell: true, env: { LESS: 'FRX', ...io.env } });
  child.stdin.on('error', () => undefined); // the pager quit before reading everything
  child.stdin.end(text);
  await new Promise<void>((resolve) => child.on('close', () => resolve()).on('error', () => resolve()));
}

async function login(server: string, configDir: string, io: Io, style: Style): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const cfg = await withErrors(createClient({ base: server }), server)('serverConfig');
  if (!cfg.authEnabled) {
    out(`${server} has no login configured: it needs no sign-in (commands work as they are)`);
    return 0;
  }
  const store = new TokenStore(configDir, server);
  const ep = await discover(server);
  const clientId = await registerClient(ep);
  const start = await startDeviceFlow(ep, clientId);
  out(`To pair this machine with ${server}, open`);
  out(`  ${start.verification_uri_complete ?? start.verification_uri}`);
  out(`and check that the page shows the code  ${paint(style, 'bold', start.user_code)}`);
  if (start.verification_uri_complete && io.stdout.isTTY) out(renderUnicodeCompact(start.verification_uri_complete, { border: 1 }));
  out(paint(style, 'dim', `(or open ${start.verification_uri} and type the code). Waiting for approval…`));
  const tokens = await pollDeviceFlow(ep, clientId, start);
  const me = await createClient({ base: server, token: tokens.access_token })('authMe').catch(() => undefined);
  await store.write(storedFrom(server, ep, clientId, tokens, me?.username));
  out(`signed in to ${server}${me ? ` as ${me.username}` : ''} (tokens in ${store.path})`);
  return 0;
}

async function logout(server: string, configDir: string, out: (line: string) => void): Promise<number> {
  const store = new TokenStore(configDir, server);
  const t = await store.read();
  if (!t) {
    out(`not signed in to ${server}`);
    return 0;
  }
  await store.locked(async () => {
    const now = (await store.read()) ?? t;
    await revoke(now);
    await store.remove();
  });
  out(`signed out of ${server}: unpaired, tokens deleted`);
  return 0;
}

