// Route: the task terminal, a WebSocket carrying a PTY shell in a live task's container (protocol in src/api/terminal.ts).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type {} from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RawData, WebSocket } from 'ws';
import { routes, TERMINAL_CLOSE, TerminalClientMessage, type TerminalEndReason, type TerminalServerMessage } from '../../api/index.js';
import type { AuditSink } from '../../audit/index.js';
import type { Logger } from '../../log/index.js';
import type { Caller, TaskService } from '../../tasks/index.js';
import type { ShellChannel } from '../../containers/index.js';
import type { TaskWorkspace } from '../../tasks/index.js';
import { presentedCredential } from '../auth/hooks.js';
import { effectiveHost } from '../context.js';
import { sendError } from '../errors.js';
import { routeOptions } from './define.js';

export interface TerminalSettings {
  idle_timeout_seconds: number;
  max_per_task: number;
  max_per_user: number;
}

export interface TerminalRouteDeps {
  service: Pick<TaskService, 'workspace'>;
  settings: TerminalSettings;
  logger: Logger;
  /** Opens and closes are audited (who, which task, how long); never the bytes. */
  audit?: AuditSink;
  /** Called by the server as it shuts down, before it closes what WebSockets are left. */
  onShutdown?: Set<() => void>;
}

/**
 * Output in flight to one browser (sent to the socket, not yet written to the kernel): above
 * HIGH the SSH channel is paused, so sshd stops reading the PTY and the shell blocks, instead of
 * the daemon buffering a slow client's output without bound; below LOW it resumes.
 */
export const OUTPUT_HIGH_WATER = 256 * 1024;
const OUTPUT_LOW_WATER = 64 * 1024;

/**
 * Why a WebSocket upgrade's Origin is refused, or null when it may go on. The attack is
 * cross-site WebSocket hijacking: a page on another site opening this socket with the person's
 * cookie (browsers attach cookies to WebSocket handshakes and always send Origin on them). So:
 * an Origin must name this server's own host (the Host the request came to, as the edge sees it
 * behind trusted proxies); `null` (sandboxed or opaque documents) never passes. A request without
 * an Origin is not from a browser, and is accepted only with a credential it presented itself (a
 * bearer token: session, or a paired device's) or with login off, never with a cookie alone.
 */
export function upgradeOriginProblem(req: FastifyRequest, loginEnabled: boolean): string | null {
  const origin = req.headers.origin;
  if (origin === undefined) {
    if (!loginEnabled || presentedCredential(req)?.bearer) return null;
    return 'a terminal without an Origin header needs Authorization: Bearer (a session cookie alone is accepted only from this server’s own pages)';
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') return 'cross-site WebSocket refused';
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return 'the Origin header is not an origin';
  }
  if (origin === 'null' || host !== (effectiveHost(req) ?? '').toLowerCase()) return 'a terminal can only be opened from this server’s own pages (Origin mismatch)';
  return null;
}

/** Open terminals by task and by user, for the caps. */
class TerminalSlots {
  private readonly byTask = new Map<string, number>();
  private readonly byUser = new Map<string, number>();
  constructor(private readonly settings: TerminalSettings) {}

  /** Why one more terminal is not allowed, or null. */
  full(taskId: string, user: string): string | null {
    const t = this.byTask.get(taskId) ?? 0;
    const u = this.byUser.get(user) ?? 0;
    if (t >= this.settings.max_per_task) return `this task has ${t} terminals open (at most ${this.settings.max_per_task}); close one first`;
    if (u >= this.settings.max_per_user) return `you have ${u} terminals open (at most ${this.settings.max_per_user}); close one first`;
    return null;
  }

  /** Takes a slot (after `full` said yes, in the same tick); the release is idempotent. */
  take(taskId: string, user: string): { release: () => void } {
    const t = this.byTask.get(taskId) ?? 0;
    const u = this.byUser.get(user) ?? 0;
    this.byTask.set(taskId, t + 1);
    this.byUser.set(user, u + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        dec(this.byTask, taskId);
        dec(this.byUser, user);
      },
    };
  }
}

function dec(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 1) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}

/** What the checks before the upgrade hand to the socket handler. */
interface Prepared {
  id: string;
  workspace: TaskWorkspace;
  shell: ShellChannel;
  cols: number;
  rows: number;
  who: Record<string, unknown>;
  opened: number;
  /** Closes the shell and frees the slot (once); also runs when the upgrade never completes. */
  dispose: () => void;
}

function callerOf(req: FastifyRequest): Caller | null {
  return req.user ? { id: req.user.id, username: req.user.username } : null;
}

export function terminalRoutes(app: FastifyInstance, deps: TerminalRouteDeps, loginEnabled: boolean): void {
  const { settings, logger } = deps;
  const slots = new TerminalSlots(settings);
  const prepared = new WeakMap<IncomingMessage, Prepared>();
  const audit = (record: Record<string, unknown>) => deps.audit?.append({ ts: new Date().toISOString(), ...record });

  const r = app.withTypeProvider<ZodTypeProvider>();
  r.route({
    ...routeOptions(routes.taskTerminal),
    // Every refusal is an HTTP answer before the upgrade: the order is Origin, task (404/409),
    // caps, then the shell itself. A plain GET opens nothing: it learns 404/409 or 400.
    preHandler: async (req, reply) => {
      const problem = req.ws ? upgradeOriginProblem(req, loginEnabled) : null;
      if (problem) return sendError(reply, 'FORBIDDEN', problem);
      const workspace = deps.service.workspace(req.params.id, callerOf(req));
      const user = req.user?.username ?? '';
      // A plain GET is how the web UI learns why an upgrade failed (a browser does not show it):
      // it gets the same 404/409/429, else a 400.
      const full = slots.full(workspace.taskId, req.user?.id ?? '');
      if (full) return sendError(reply, 'RATE_LIMITED', full);
      if (!req.ws) return sendError(reply, 'BAD_REQUEST', 'this route is a WebSocket: send an Upgrade request');
      const slot = slots.take(workspace.taskId, req.user?.id ?? '');
      let shell: ShellChannel;
      try {
        shell = await workspace.shell({ cols: req.query.cols, rows: req.query.rows });
      } catch (err) {
        slot.release();
        throw err;
      }
      let disposed = false;
      const p: Prepared = {
        id: randomUUID(),
        workspace,
        shell,
        cols: req.query.cols,
        rows: req.query.rows,
        who: { user, ip: req.client?.ip ?? '', task: workspace.taskId },
        opened: Date.now(),
        dispose: () => {
          if (disposed) return;
          disposed = true;
          shell.close();
          slot.release();
        },
      };
      prepared.set(req.raw, p);
      // Whatever happens to the upgrade (a refused handshake, a client gone), the socket's end frees all.
      req.raw.socket.once('close', p.dispose);
      return undefined;
    },
    handler: (_req, reply: FastifyReply) => sendError(reply, 'BAD_REQUEST', 'this route is a WebSocket: send an Upgrade request'),
    wsHandler: (socket: WebSocket, req) => {
      const p = prepared.get(req.raw);
      if (!p) {
        socket.close(TERMINAL_CLOSE.error, 'not prepared');
        return;
      }
      serve(socket, p);
    },
  });

  function serve(socket: WebSocket, p: Prepared): void {
    const { shell } = p;
    const stream = shell.stream;
    let ended = false;
    let inBytes = 0;
    let outBytes = 0;
    const send = (m: TerminalServerMessage) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
    };
    logger.info({ ...p.who, terminal: p.id }, 'terminal opened');
    audit({ event: 'terminal.open', terminal: p.id, ...p.who });

    const shutdown = () => finish('shutdown', TERMINAL_CLOSE.shutdown, 'the server is shutting down');
    deps.onShutdown?.add(shutdown);
    const finish = (reason: TerminalEndReason | 'client', code?: number, message = '') => {
      if (ended) return;
      ended = true;
      deps.onShutdown?.delete(shutdown);
      clearTimeout(idle);
      stopOnEnd();
      if (code !== undefined && socket.readyState === socket.OPEN) {
        if (reason !== 'client' && reason !== 'exit') send({ type: 'closing', reason, message });
        socket.close(code, reason);
      }
      p.dispose();
      const record = { ...p.who, terminal: p.id, reason, seconds: Math.round((Date.now() - p.opened) / 1000), bytesIn: inBytes, bytesOut: outBytes };
      logger.info(record, 'terminal closed');
      audit({ event: 'terminal.close', ...record });
    };

    const idleMs = settings.idle_timeout_seconds * 1000;
    const idle = setTimeout(() => finish('idle', TERMINAL_CLOSE.idle, `closed after ${settings.idle_timeout_seconds} s without input`), idleMs);
    const stopOnEnd = p.workspace.onEnd(() => finish('task_ended', TERMINAL_CLOSE.taskEnded, 'the task stopped'));

    // Output, with back-pressure: bytes handed to the socket and not yet flushed are counted.
    let inFlight = 0;
    let paused = false;
    stream.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      inFlight += chunk.length;
      socket.send(chunk, { binary: true }, () => {
        inFlight -= chunk.length;
        if (paused && inFlight <= OUTPUT_LOW_WATER) {
          paused = false;
          stream.resume();
        }
      });
      if (!paused && inFlight >= OUTPUT_HIGH_WATER) {
        paused = true;
        stream.pause();
      }
    });

    // Input: keystrokes as binary frames, control as JSON text frames.
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (ended) return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) {
        idle.refresh();
        inBytes += buf.length;
        // sshd's window is full: stop reading the socket until the channel drains.
        if (!stream.write(buf)) {
          socket.pause();
          stream.once('drain', () => socket.resume());
        }
        return;
      }
      let msg: TerminalClientMessage;
      try {
        msg = TerminalClientMessage.parse(JSON.parse(buf.toString('utf8')));
      } catch {
        finish('error', TERMINAL_CLOSE.badMessage, 'a text frame was not a valid control message');
        return;
      }
      idle.refresh();
      shell.resize({ cols: msg.cols, rows: msg.rows });
    });
    socket.on('close', () => finish('client'));
    socket.on('error', () => finish('error'));
    void shell.wait().then((exit) => {
      if (ended) return;
      send({ type: 'exit', code: exit.code, ...(exit.signal ? { signal: exit.signal } : {}) });
      finish('exit', TERMINAL_CLOSE.exit, 'the shell exited');
    });
    send({ type: 'ready', cols: p.cols, rows: p.rows, idleTimeoutSeconds: settings.idle_timeout_seconds });
  }
}
