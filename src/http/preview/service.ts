// PreviewService: the preview hosts' dispatch (token exchange, cookie check, proxy) and what the
// API routes ask of previews (detected ports with their origins, one-time open links).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PreviewOpenResp, PreviewsResp } from '../../api/index.js';
import { listeningPorts, TaskError, type Caller, type ListeningPort, type TaskService, type TaskWorkspace } from '../../tasks/index.js';
import type { Logger } from '../../log/index.js';
import type { SessionManager } from '../auth/index.js';
import { hostnameOf } from '../auth/host-lock.js';
import { effectiveHost, isHttps, pathOf } from '../context.js';
import { PreviewGrants, type PreviewGrant } from './grants.js';
import { isLoopbackName, isPreviewDomain, parsePreviewHost, previewHostname, type PreviewTarget } from './host.js';
import { proxyHttp, proxyUpgrade, sendPage, type ProxyTarget } from './proxy.js';

/** The preview host's cookie: host-only (no Domain), so it never leaves that one host. */
export const PREVIEW_COOKIE = 'caic_preview';
/** The one path caic keeps on a preview host: where an open link is traded for the cookie. */
export const AUTH_PATH = '/__caic/preview-auth';
/** Detected ports are read again at most this often per task, however many viewers poll. */
const SCAN_EVERY_MS = 2_000;

export interface PreviewOptions {
  enabled: boolean;
  /** Configured preview domain ('' = `localhost`, usable only by clients on a loopback name). */
  domain: string;
  responseTimeoutSeconds: number;
  /** `[server] external_url`, when set: a configured domain's previews use its scheme and port. */
  externalUrl: URL | null;
}

interface Watched {
  items: Set<() => void>;
  stop: () => void;
}

/** The values of every cookie of this name in a Cookie header (an app may have shadowed ours by path). */
function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** The symbols @fastify/websocket keeps an upgrade's socket and head under (it exports neither). */
function upgradeOf(raw: IncomingMessage): { socket: Duplex; head: Buffer } | null {
  let socket: Duplex | undefined;
  let head: Buffer | undefined;
  for (const s of Object.getOwnPropertySymbols(raw)) {
    const v = (raw as unknown as Record<symbol, unknown>)[s];
    if (s.description === 'ws-socket') socket = v as Duplex;
    else if (s.description === 'ws-head' && Buffer.isBuffer(v)) head = v;
  }
  return socket ? { socket, head: head ?? Buffer.alloc(0) } : null;
}

/**
 * Where the preview cookie may be sent. Opened as a page (a new tab): SameSite=Lax, so no other
 * site can make the browser send it. Opened in caic's side panel: the frame is cross-site to caic
 * whenever the preview's site differs from caic's (always for the default `*.localhost`, where each
 * host is a site of its own), and a Lax cookie would not even be stored there; the frame's cookie is
 * Partitioned (CHIPS): kept in a jar of its own for frames under caic's page, never sent when another
 * site frames or posts to the preview. Partitioned needs Secure, which browsers accept on https and
 * on *.localhost.
 */
function cookieScope(req: FastifyRequest): string {
  const dest = req.headers['sec-fetch-dest'];
  if (dest === 'iframe' || dest === 'frame') return 'SameSite=None; Secure; Partitioned';
  return `SameSite=Lax${isHttps(req) ? '; Secure' : ''}`;
}

/** A `next` path from an open link: a path on the same host, else `/`. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && !/[\r\n]/.test(next) ? next : '/';
}

export class PreviewService {
  readonly grants = new PreviewGrants();
  /** The domain preview hosts are read under. */
  readonly domain: string;
  private readonly watched = new Map<string, Watched>();
  private readonly scans = new Map<string, { at: number; ports: Promise<ListeningPort[]> }>();

  constructor(
    private readonly tasks: TaskService,
    private readonly sessions: SessionManager | null,
    private readonly opts: PreviewOptions,
    private readonly logger: Logger,
  ) {
    this.domain = opts.domain || 'localhost';
    if (!isPreviewDomain(this.domain)) throw new Error(`[preview] domain: not a DNS name: ${opts.domain}`);
  }

  /** Frame sources the UI's CSP allows for its side panel (any port and scheme-matched host under the domain). */
  frameSources(): string[] {
    return this.opts.enabled ? [`*.${this.domain}:*`] : [];
  }

  /**
   * The preview origin of a port for a client of the caic API, or a reason why there is none: with
   * no domain configured, previews live under `localhost` and only clients that reached caic on a
   * loopback name resolve it to this machine.
   */
  private originFor(req: FastifyRequest, target: PreviewTarget): { origin: string } | { reason: string } {
    if (!this.opts.enabled) return { reason: 'previews are off on this server ([preview] enabled = false)' };
    const host = effectiveHost(req) ?? '';
    const name = hostnameOf(host);
    if (!this.opts.domain && !isLoopbackName(name)) return { reason: 'set [preview] domain (a wildcard DNS name for this server) to preview from another machine' };
    const ext = this.opts.domain ? this.opts.externalUrl : null;
    const proto = ext ? ext.protocol.slice(0, -1) : isHttps(req) ? 'https' : 'http';
    const portMatch = /:(\d{1,5})$/.exec(host);
    const port = ext ? ext.port : portMatch && !host.endsWith(']') ? portMatch[1]! : '';
    return { origin: `${proto}://${previewHostname(target, this.domain)}${port ? `:${port}` : ''}` };
  }

  /** Detected ports with their origins (the caller must own the live task). */
  async ports(req: FastifyRequest, id: string, caller: Caller | null): Promise<PreviewsResp> {
    const ws = this.tasks.workspace(id, caller);
    this.watch(ws);
    let scan = this.scans.get(id);
    if (!scan || Date.now() - scan.at >= SCAN_EVERY_MS) {
      scan = { at: Date.now(), ports: listeningPorts(ws) };
      this.scans.set(id, scan);
      scan.ports.catch(() => this.scans.delete(id));
    }
    const found = await scan.ports;
    const probe = this.originFor(req, { port: 1, taskId: id });
    return {
      ports: found.map((p) => {
        const o = this.originFor(req, { port: p.port, taskId: id });
        return { port: p.port, host: p.host, url: 'origin' in o ? `${o.origin}/` : null };
      }),
      available: 'origin' in probe,
      ...('reason' in probe ? { reason: probe.reason } : {}),
    };
  }

  /** A one-time open link for a port of the caller's live task. */
  open(req: FastifyRequest, id: string, port: number, caller: Caller | null): PreviewOpenResp {
    const ws = this.tasks.workspace(id, caller);
    const o = this.originFor(req, { port, taskId: id });
    if ('reason' in o) throw new TaskError('CONFLICT', o.reason);
    this.watch(ws);
    const hostname = previewHostname({ port, taskId: id }, this.domain);
    const grant = { userId: caller?.id ?? null, username: caller?.username ?? null, epoch: req.user?.sessionEpoch ?? 0, taskId: id, port, hostname };
    const { token, expiresAt } = this.grants.mint(grant);
    return { url: `${o.origin}${AUTH_PATH}?token=${token}`, origin: o.origin, expiresAt: expiresAt.toISOString() };
  }

  /** Closes a task's previews (connections, cookies, cached ports) once it leaves the live states. */
  private watch(ws: TaskWorkspace): Watched {
    let w = this.watched.get(ws.taskId);
    if (w) return w;
    const items = new Set<() => void>();
    w = { items, stop: () => undefined };
    this.watched.set(ws.taskId, w);
    w.stop = ws.onEnd(() => {
      this.watched.delete(ws.taskId);
      this.scans.delete(ws.taskId);
      this.grants.dropTask(ws.taskId);
      for (const destroy of items) destroy();
      items.clear();
      this.logger.info({ taskId: ws.taskId }, 'task stopped: its previews are closed');
    });
    return w;
  }

  /**
   * Cuts every preview connection (the server is closing: an upgraded socket would otherwise keep
   * `close()` waiting, as Node no longer sees it as an HTTP connection).
   */
  closeAll(): void {
    for (const [taskId, w] of this.watched) {
      w.stop();
      for (const destroy of w.items) destroy();
      this.watched.delete(taskId);
    }
  }

  /**
   * The edge's dispatch, right after the gate: a request for a preview host is answered here (and
   * never meets the host lock, the session or the routes); anything else returns false.
   */
  dispatch(req: FastifyRequest, reply: FastifyReply): boolean {
    if (!this.opts.enabled) return false;
    const host = effectiveHost(req);
    const target = parsePreviewHost(host, this.domain);
    if (!target) return false;
    reply.hijack();
    const upgrade = req.headers.upgrade !== undefined ? upgradeOf(req.raw) : null;
    this.serve(req, reply, target, host!, upgrade).catch((err: unknown) => {
      this.logger.error({ err, taskId: target.taskId, port: target.port }, 'preview request failed');
      if (upgrade) upgrade.socket.destroy();
      else sendPage(reply.raw, 502, 'The preview failed.');
    });
    return true;
  }

  private async serve(req: FastifyRequest, reply: FastifyReply, target: PreviewTarget, host: string, upgrade: { socket: Duplex; head: Buffer } | null): Promise<void> {
    const started = Date.now();
    const hostname = previewHostname(target, this.domain);
    const log = (status: number, detail?: string) => {
      const line = { taskId: target.taskId, port: target.port, method: req.method, path: pathOf(req.url), status, ms: Date.now() - started, ip: req.client?.ip, ...(detail ? { detail } : {}) };
      if (status >= 500) this.logger.warn(line, 'preview');
      else this.logger.debug(line, 'preview');
    };
    const refuse = (status: number, text: string) => {
      if (upgrade) {
        upgrade.socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
      } else sendPage(reply.raw, status, text);
      log(status);
    };
    const url = new URL(req.url, 'http://preview.invalid');
    if (url.pathname === AUTH_PATH && !upgrade) {
      const grant = this.grants.redeem(url.searchParams.get('token') ?? '', hostname);
      if (!grant || grant.taskId !== target.taskId || grant.port !== target.port) {
        return refuse(403, 'This preview link was used already, has expired or is for another preview. Open the preview again from caic.');
      }
      const { value, maxAgeSeconds } = this.grants.session(grant);
      reply.raw.writeHead(302, {
        location: safeNext(url.searchParams.get('next')),
        'set-cookie': `${PREVIEW_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; ${cookieScope(req)}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'content-length': '0',
      });
      reply.raw.end();
      return log(302);
    }
    const grant = this.checkCookie(req.headers.cookie, hostname, target);
    if (!grant) return refuse(401, 'This preview needs to be opened from caic (its link signs this browser in to this preview alone).');
    let ws: TaskWorkspace;
    try {
      ws = this.tasks.workspace(target.taskId, grant.userId ? { id: grant.userId, username: grant.username ?? '' } : null);
    } catch (err) {
      if (err instanceof TaskError && err.code === 'CONFLICT') return refuse(410, 'The task is not running any more: its previews are closed.');
      if (err instanceof TaskError) return refuse(404, 'No such preview.');
      throw err;
    }
    const w = this.watch(ws);
    const listener = (await this.portsCached(target.taskId))?.find((p) => p.port === target.port);
    const proto = isHttps(req) ? 'https' : 'http';
    const t: ProxyTarget = {
      port: target.port,
      publicHost: host,
      proto,
      previewOrigin: `${proto}://${host}`,
      connect: () => ws.forward(target.port, listener?.host ?? '127.0.0.1'),
      track: (destroy) => {
        w.items.add(destroy);
        return () => w.items.delete(destroy);
      },
      responseTimeoutMs: this.opts.responseTimeoutSeconds * 1000,
      done: log,
    };
    if (upgrade) {
      if (req.headers.upgrade?.toLowerCase() !== 'websocket') return refuse(400, 'Only WebSocket upgrades are proxied.');
      await proxyUpgrade(req.raw, upgrade.socket, upgrade.head, t);
    } else await proxyHttp(req.raw, reply.raw, t);
  }

  /** The ports found by the last scan, if one is at hand (a proxied request never waits for a scan). */
  private async portsCached(taskId: string): Promise<ListeningPort[] | null> {
    const s = this.scans.get(taskId);
    return s ? s.ports.catch(() => null) : null;
  }

  /**
   * The grant of a preview cookie on this host, if it holds: the user is still allowed to use caic
   * and has not signed out everywhere since.
   */
  private checkCookie(header: string | undefined, hostname: string, target: PreviewTarget): PreviewGrant | null {
    for (const value of cookieValues(header, PREVIEW_COOKIE)) {
      const g = this.grants.check(value, hostname);
      if (!g || g.taskId !== target.taskId || g.port !== target.port) continue;
      if (this.sessions) {
        const user = g.userId ? this.sessions.userById(g.userId) : null;
        if (!user || user.sessionEpoch !== g.epoch) continue;
      }
      return g;
    }
    return null;
  }
}
