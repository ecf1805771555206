// npm run bench:voice — the WebRTC voice gateway under load: the latency it adds per direction
// (an RTP packet on the wire → 16 kHz PCM handed to the backend; the backend's audio → its RTP
// packet handed to the socket, pacing wait apart) and its CPU and memory per session with 1, 5 and
// 20 sessions, against the floor of decoding and encoding the same frames without WebRTC
// (`codecFloor`), measured in the same run. The gateway runs in its own process (the standalone
// gateway's Fastify app, token check and VoiceGateway, with an in-process backend that answers
// each microphone chunk with as much recorded speech at 24 kHz, as Gemini sends it); werift
// clients in this process send espeak-ng speech as 20 ms Opus packets in real time. Loopback only.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RtpHeader, RtpPacket, type RTCPeerConnection, type RTCRtpTransceiver } from 'werift';
import type { RtcTiming } from '../../src/voice/index.js';
import { makeOffer, postClose, postOffer } from '../helpers/voice-client.js';
import { speak } from '../helpers/speech.js';
import { machine, percentile, summary } from './lib.js';

const LEVELS = (process.env.BENCH_SESSIONS ?? '1,5,20').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 3);
/** A frame arriving this much later than the earliest of the 50 before it (by its RTP timestamp) is late: a jitter buffer of two frames would have had to wait for it. */
const LATE_MS = 40;
/** The whole run ends by then, whatever happens (the gateway is killed, the process exits). */
const DEADLINE_MS = 15 * 60_000;
const FRAME_MS = 20;
const USER_SCRIPT =
  'Hands-free control is one of the headline features. While walking, a person asks what are my tasks doing, ' +
  'tell task two to add tests, push it, and hears the answer.';
const REPLY_SCRIPT =
  'You have three tasks. Task one is running the tests, task two is waiting for your answer, and task three has finished and has a pull request open.';

/** Milliseconds on the machine's monotonic clock: the same in every process, so stamps from the client and the gateway compare. */
const hr = () => Number(process.hrtime.bigint()) / 1e6;

/** SSRC and sequence number of an RTP packet, read from its header (SRTP leaves the header in the clear); null for anything else. */
function rtpKey(b: Buffer): number | null {
  if (b.length < 12 || (b[0]! & 0xc0) !== 0x80 || (b[1]! >= 192 && b[1]! <= 223)) return null;
  return b.readUInt32BE(8) * 65536 + b.readUInt16BE(2);
}

/**
 * Stamps each RTP packet as it leaves through and arrives at a UDP socket of this process, as
 * close to the socket as Node allows (the `send` call, the `message` event); only while `on`.
 */
function tapSockets(): { on: boolean; sent: Map<number, number>; received: { key: number; ts: number; at: number }[] } {
  const tap = { on: false, sent: new Map<number, number>(), received: [] as { key: number; ts: number; at: number }[] };
  const proto = dgram.Socket.prototype as unknown as { send: (...a: unknown[]) => unknown; emit: (...a: unknown[]) => boolean };
  const send = proto.send;
  const emit = proto.emit;
  proto.send = function (this: unknown, ...args: unknown[]) {
    if (tap.on && Buffer.isBuffer(args[0])) {
      const key = rtpKey(args[0]);
      if (key !== null) tap.sent.set(key, hr());
    }
    return send.apply(this, args);
  };
  proto.emit = function (this: unknown, ...args: unknown[]) {
    if (tap.on && args[0] === 'message' && Buffer.isBuffer(args[1])) {
      const b = args[1];
      const key = rtpKey(b);
      if (key !== null) tap.received.push({ key, ts: b.readUInt32BE(4), at: hr() });
    }
    return emit.apply(this, args);
  };
  return tap;
}

/** Seconds this process's threads have waited on a run queue (/proc/self/schedstat; 0 where there is none). */
function runQueueWait(): number {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway's process.

interface WindowResult {
  cpuS: number;
  wallS: number;
  /** Seconds the process was ready to run but waited for a CPU (other processes had them): the machine's share of any delay. */
  waitS: number;
  rssMb: number;
  sessions: number;
  /** Microphone packets: key, and the stamps (hr ms) of the socket read, werift's hand-over and the PCM handed to the backend. */
  mic: { key: number[]; read: number[]; received: number[]; handed: number[] };
  /** Assistant packets: emitted, queued, released, and handed to the socket (hr ms). */
  out: { emitted: number[]; queued: number[]; released: number[]; wire: number[] };
  unmatched: { mic: number; out: number };
}

type Command = { cmd: 'tokens'; subs: string[] } | { cmd: 'start' } | { cmd: 'stop' } | { cmd: 'rss' } | { cmd: 'quit' };
type Request = Command & { id: number };

async function gatewayProcess(): Promise<void> {
  const tap = tapSockets();
  const { EchoBackend, serveGateway } = await import('../helpers/echo-backend.js');
  const reply = await speak(REPLY_SCRIPT, 24_000);
  // performance.now() and hr() tick together: one offset turns the seam's stamps into hr ms.
  const offset = hr() - performance.now();
  let mic: Extract<RtcTiming, { kind: 'mic' }>[] = [];
  let out: Extract<RtcTiming, { kind: 'assistant' }>[] = [];
  const gw = await serveGateway(new EchoBackend({ reply, replyRate: 24_000 }), {
    maxSessions: Math.max(...LEVELS),
    onTiming: (_id, t) => {
      if (!tap.on) return;
      if (t.kind === 'mic') mic.push(t);
      else out.push(t);
    },
  });
  let cpu0 = process.cpuUsage();
  let wall0 = hr();
  let wait0 = runQueueWait();
  const answer = (id: number, value: unknown) => process.send!({ id, value });
  process.on('message', (m: Request) => {
    switch (m.cmd) {
      case 'tokens':
        void Promise.all(m.subs.map((s) => gw.token(s))).then((tokens) => answer(m.id, tokens));
        return;
      case 'start':
        mic = [];
        out = [];
        tap.sent.clear();
        tap.received.length = 0;
        tap.on = true;
        cpu0 = process.cpuUsage();
        wall0 = hr();
        wait0 = runQueueWait();
        answer(m.id, null);
        return;
      case 'rss':
        answer(m.id, process.memoryUsage().rss / 2 ** 20);
        return;
      case 'quit':
        // A normal exit, so --cpu-prof (BENCH_PROF) writes its profile.
        void gw.close().finally(() => process.exit(0));
        return;
      case 'stop': {
        const cpu = process.cpuUsage(cpu0);
        const wallS = (hr() - wall0) / 1000;
        const waitS = runQueueWait() - wait0;
        tap.on = false;
        const reads = new Map(tap.received.map((r) => [r.key, r.at]));
        const r: WindowResult = {
          cpuS: (cpu.user + cpu.system) / 1e6,
          wallS,
          waitS,
          rssMb: process.memoryUsage().rss / 2 ** 20,
          sessions: gw.gateway.size,
          mic: { key: [], read: [], received: [], handed: [] },
          out: { emitted: [], queued: [], released: [], wire: [] },
          unmatched: { mic: 0, out: 0 },
        };
        for (const t of mic) {
          const key = t.ssrc * 65536 + t.sequenceNumber;
          const read = reads.get(key);
          if (read === undefined) {
            r.unmatched.mic++;
            continue;
          }
          r.mic.key.push(key);
          r.mic.read.push(read);
          r.mic.received.push(t.received + offset);
          r.mic.handed.push(t.handed + offset);
        }
        for (const t of out) {
          const wire = tap.sent.get(t.ssrc * 65536 + t.sequenceNumber);
          if (wire === undefined) {
            r.unmatched.out++;
            continue;
          }
          r.out.emitted.push(t.emitted + offset);
          r.out.queued.push(t.queued + offset);
          r.out.released.push(t.released + offset);
          r.out.wire.push(wire);
        }
        answer(m.id, r);
        return;
      }
    }
  });
  process.send!({ ready: gw.url });
}

// ---------------------------------------------------------------------------------------------
// The floor's process: the same packets decoded and encoded, one codec per session, no WebRTC.

async function floorProcess(sessions: number, frames: number): Promise<void> {
  const { codecFloor, OpusCodec } = await import('../../src/voice/index.js');
  const packets = await speechPackets();
  const codecs = Array.from({ length: sessions }, () => new OpusCodec());
  let i = 0;
  const run = (n: number) => {
    // Round robin in 20 ms steps, as the sessions' packets arrive.
    for (let k = 0; k < n; k++, i++) codecFloor([packets[i % packets.length]!], codecs[i % sessions]);
  };
  run(200 * sessions);
  const c0 = process.cpuUsage();
  run(frames);
  const c = process.cpuUsage(c0);
  process.send!({ cpuPerFrameS: (c.user + c.system) / 1e6 / frames });
}

/** The user's speech as the client sends it: 48 kHz, 20 ms Opus packets (caic's codec settings). */
async function speechPackets(): Promise<Uint8Array[]> {
  const { Framer, OPUS_FRAME_SAMPLES, OpusCodec } = await import('../../src/voice/index.js');
  const pcm = await speak(USER_SCRIPT, 48_000);
  const framer = new Framer(OPUS_FRAME_SAMPLES);
  const frames = framer.push(pcm);
  const encoder = new OpusCodec();
  const packets = frames.map((f) => encoder.encode(f));
  encoder.close();
  return packets;
}

// ---------------------------------------------------------------------------------------------
// The clients' process.

/**
 * BENCH_PIN=1 puts the gateway on CPU 1 and the clients on CPU 0 (as the other benchmarks do). Not
 * the default: on a machine shared with other work, a pinned gateway waits for its one core while
 * the other is free, and the latency measured is the neighbours'.
 */
const PINNED = process.env.BENCH_PIN === '1' && cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;
/** BENCH_PROF=<dir>: a CPU profile of the gateway process (--cpu-prof) written there at the end. */
const PROF = process.env.BENCH_PROF;

function forkSelf(args: string[]): ChildProcess {
  const gateway = args[0] === 'gateway';
  const node = PROF && gateway ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [];
  return fork(fileURLToPath(import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(PINNED && gateway ? { execPath: 'taskset', execArgv: ['-c', '1', process.execPath, ...node] } : { execArgv: node }),
  });
}

class Gateway {
  private nextId = 1;
  private waiting = new Map<number, (v: unknown) => void>();
  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
  ) {
    proc.on('message', (m: { id?: number; value?: unknown }) => {
      if (m.id === undefined) return;
      this.waiting.get(m.id)?.(m.value);
      this.waiting.delete(m.id);
    });
  }

  static start(): Promise<Gateway> {
    const proc = forkSelf(['gateway']);
    return new Promise((resolve, reject) => {
      proc.once('message', (m: { ready: string }) => resolve(new Gateway(proc, m.ready)));
      proc.once('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
    });
  }

  ask<T>(cmd: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('the gateway exited'));
      this.proc.once('exit', onExit);
      this.waiting.set(id, (v) => {
        this.proc.off('exit', onExit);
        resolve(v as T);
      });
      this.proc.send({ ...cmd, id });
    });
  }
}

/** A werift client that sends pre-encoded speech every 20 ms and only counts what comes back (the socket tap stamps it). */
class LeanClient {
  private timer: NodeJS.Timeout | null = null;
  private seq = Math.floor(Math.random() * 0x10000);
  private timestamp = 0;
  sent = 0;

  private constructor(
    private readonly pc: RTCPeerConnection,
    private readonly transceiver: RTCRtpTransceiver,
    readonly sessionId: string,
    private readonly url: string,
    private readonly token: string,
  ) {}

  static async connect(url: string, token: string): Promise<LeanClient> {
    const { pc, transceiver, channel, sdp } = await makeOffer();
    const answer = await postOffer(url, token, sdp);
    if (answer.status !== 200) throw new Error(`offer refused: ${answer.status} ${JSON.stringify(answer.body)}`);
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no session.ready within 15 s')), 15_000);
      channel.onMessage.subscribe((data) => {
        if (String(data).includes('"session.ready"')) {
          clearTimeout(t);
          resolve();
        }
      });
      channel.stateChanged.subscribe((s) => {
        if (s === 'open') channel.send(JSON.stringify({ type: 'session.setup', tools: [], context: '' }));
      });
    });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.body.sdp as string });
    await ready;
    return new LeanClient(pc, transceiver, answer.body.sessionId as string, url, token);
  }

  get ssrc(): number {
    return this.transceiver.sender.ssrc;
  }

  /** Sends `packets` (looped, from `from`) on a drift-free 20 ms schedule until `stop`. */
  start(packets: Uint8Array[], from: number): void {
    const t0 = performance.now();
    let k = 0;
    const tick = () => {
      const header = new RtpHeader({ payloadType: 111, sequenceNumber: this.seq, timestamp: this.timestamp, marker: k === 0, ssrc: this.ssrc });
      this.seq = (this.seq + 1) & 0xffff;
      this.timestamp = (this.timestamp + 960) >>> 0;
      const p = packets[(from + k) % packets.length]!;
      void this.transceiver.sender.sendRtp(new RtpPacket(header, Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
      this.sent++;
      k++;
      this.timer = setTimeout(tick, Math.max(0, t0 + k * FRAME_MS - performance.now()));
    };
    tick();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await postClose(this.url, this.token, this.sessionId).catch(() => {});
    await this.pc.close().catch(() => {});
  }
}

function pcts(xs: number[]): { p50: number; p99: number; max: number } {
  if (xs.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs) };
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const pp = (s: { p50: number; p99: number }) => `${f(s.p50)} / ${f(s.p99)}`;

interface LevelResult {
  n: number;
  cpuPct: number;
  perSessionPct: number;
  /** (CPU − the idle gateway's) ÷ sessions. */
  marginalPct: number;
  /** The gateway's main thread waiting for a CPU, % of the window. */
  waitPct: number;
  clientCpuPct: number;
  floorPerSessionPct: number;
  rssMb: number;
  up: { wire: ReturnType<typeof pcts>; socket: ReturnType<typeof pcts>; werift: ReturnType<typeof pcts>; caic: ReturnType<typeof pcts>; count: number; lost: number };
  down: { processing: ReturnType<typeof pcts>; encode: ReturnType<typeof pcts>; send: ReturnType<typeof pcts>; pacing: ReturnType<typeof pcts>; count: number };
  client: { received: number; expected: number; lost: number; late: number; jitterP99: number };
  unmatched: { mic: number; out: number };
}

/** Per session at the client: frames lost (sequence gaps) and late (behind the earliest of the 50 before, by RTP timestamp). */
function clientSide(received: { key: number; ts: number; at: number }[], ssrcs: Set<number>): LevelResult['client'] {
  const by = new Map<number, { seq: number; ts: number; at: number }[]>();
  for (const r of received) {
    const ssrc = Math.floor(r.key / 65536);
    if (!ssrcs.has(ssrc)) continue;
    let l = by.get(ssrc);
    if (!l) by.set(ssrc, (l = []));
    l.push({ seq: r.key % 65536, ts: r.ts, at: r.at });
  }
  let got = 0, expected = 0, late = 0;
  const jitter: number[] = [];
  for (const l of by.values()) {
    // Unwrap sequence numbers and timestamps from the first packet on.
    const seqs = new Set<number>();
    let lastSeq = l[0]!.seq, seqBase = 0, lastTs = l[0]!.ts, tsBase = 0;
    const transit: number[] = [];
    for (const p of l) {
      if (p.seq < lastSeq && lastSeq - p.seq > 0x8000) seqBase += 0x10000;
      if (p.ts < lastTs && lastTs - p.ts > 0x80000000) tsBase += 0x100000000;
      lastSeq = p.seq;
      lastTs = p.ts;
      seqs.add(seqBase + p.seq);
      transit.push(p.at - (tsBase + p.ts) / 48);
    }
    const sorted = [...seqs].sort((a, b) => a - b);
    got += sorted.length;
    expected += sorted.at(-1)! - sorted[0]! + 1;
    for (let i = 0; i < transit.length; i++) {
      let min = transit[i]!;
      for (let j = Math.max(0, i - 50); j < i; j++) min = Math.min(min, transit[j]!);
      const d = transit[i]! - min;
      jitter.push(d);
      if (d > LATE_MS) late++;
    }
  }
  return { received: got, expected, lost: expected - got, late, jitterP99: jitter.length ? percentile(jitter, 99) : Number.NaN };
}

function floorRun(sessions: number, frames: number): Promise<number> {
  const proc = forkSelf(['floor', String(sessions), String(frames)]);
  return new Promise((resolve, reject) => {
    proc.once('message', (m: { cpuPerFrameS: number }) => resolve(m.cpuPerFrameS));
    proc.once('exit', (code) => code !== 0 && reject(new Error(`the floor exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  console.log(machine());
  const tap = tapSockets();
  const packets = await speechPackets();
  const gw = await Gateway.start();
  const deadline = setTimeout(() => {
    console.error(`bench:voice: not done within ${DEADLINE_MS / 60_000} min; stopping`);
    gw.proc.kill('SIGKILL');
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();
  const clients: LeanClient[] = [];
  const results: LevelResult[] = [];
  const idleRss = await gw.ask<number>({ cmd: 'rss' });
  // The gateway with no session: what the process costs by itself (timers, the HTTP server), once its start-up has settled.
  await new Promise((r) => setTimeout(r, 3000));
  await gw.ask({ cmd: 'start' });
  await new Promise((r) => setTimeout(r, 3000));
  const idle = await gw.ask<WindowResult>({ cmd: 'stop' });
  const idlePct = (100 * idle.cpuS) / idle.wallS;
  console.log(`idle gateway: CPU ${f(idlePct, 2)}% of a core, RSS ${f(idleRss, 0)} MB`);
  try {
    for (const n of LEVELS) {
      const subs = Array.from({ length: n - clients.length }, (_, i) => `bench-user-${clients.length + i}`);
      const tokens = await gw.ask<string[]>({ cmd: 'tokens', subs });
      for (const token of tokens) {
        const c = await LeanClient.connect(gw.url, token);
        c.start(packets, clients.length * 37);
        clients.push(c);
      }
      await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
      tap.sent.clear();
      tap.received.length = 0;
      const sentBefore = clients.reduce((a, c) => a + c.sent, 0);
      const clientCpu0 = process.cpuUsage();
      const clientWall0 = hr();
      tap.on = true;
      await gw.ask({ cmd: 'start' });
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      tap.on = false;
      const clientCpu = process.cpuUsage(clientCpu0);
      const clientCpuPct = (100 * (clientCpu.user + clientCpu.system)) / 1e6 / ((hr() - clientWall0) / 1000);
      const w = await gw.ask<WindowResult>({ cmd: 'stop' });
      const sentInWindow = clients.reduce((a, c) => a + c.sent, 0) - sentBefore;
      const floorFrames = Math.round(n * (1000 / FRAME_MS) * Math.min(SECONDS, 5));
      const floorPerFrame = await floorRun(n, floorFrames);

      // Uplink: from the client's socket (through the loopback and the gateway's event loop) to the PCM handed over.
      const wire: number[] = [], socket: number[] = [], werift: number[] = [], caic: number[] = [];
      let uplinkSent = 0, uplinkHanded = 0;
      const handedKeys = new Set(w.mic.key);
      for (let i = 0; i < w.mic.key.length; i++) {
        const sentAt = tap.sent.get(w.mic.key[i]!);
        if (sentAt !== undefined) wire.push(w.mic.handed[i]! - sentAt);
        socket.push(w.mic.handed[i]! - w.mic.read[i]!);
        werift.push(w.mic.received[i]! - w.mic.read[i]!);
        caic.push(w.mic.handed[i]! - w.mic.received[i]!);
      }
      // Packets sent in the window but for its last 200 ms (they may be handed over after it ended).
      const windowEnd = Math.max(...tap.sent.values());
      for (const [key, at] of tap.sent) {
        if (at > windowEnd - 200) continue;
        uplinkSent++;
        if (handedKeys.has(key)) uplinkHanded++;
      }
      const processing: number[] = [], encode: number[] = [], send: number[] = [], pacing: number[] = [];
      for (let i = 0; i < w.out.wire.length; i++) {
        encode.push(w.out.queued[i]! - w.out.emitted[i]!);
        send.push(w.out.wire[i]! - w.out.released[i]!);
        processing.push(encode.at(-1)! + send.at(-1)!);
        pacing.push(w.out.released[i]! - w.out.queued[i]!);
      }
      // The gateway's SSRCs: what the clients receive on their tracks.
      const clientSsrcs = new Set(clients.map((c) => c.ssrc));
      const gatewaySsrcs = new Set(tap.received.map((r) => Math.floor(r.key / 65536)).filter((s) => !clientSsrcs.has(s)));
      const cpuPct = (100 * w.cpuS) / w.wallS;
      const r: LevelResult = {
        n,
        cpuPct,
        perSessionPct: cpuPct / n,
        marginalPct: (cpuPct - idlePct) / n,
        waitPct: (100 * w.waitS) / w.wallS,
        clientCpuPct,
        floorPerSessionPct: 100 * floorPerFrame * (1000 / FRAME_MS),
        rssMb: w.rssMb,
        up: { wire: pcts(wire), socket: pcts(socket), werift: pcts(werift), caic: pcts(caic), count: w.mic.key.length, lost: uplinkSent - uplinkHanded },
        down: { processing: pcts(processing), encode: pcts(encode), send: pcts(send), pacing: pcts(pacing), count: w.out.wire.length },
        client: clientSide(tap.received, gatewaySsrcs),
        unmatched: w.unmatched,
      };
      results.push(r);
      console.log(
        `\n${n} session(s), ${w.sessions} open, ${f(w.wallS, 1)} s: gateway CPU ${f(cpuPct, 1)}% of a core (${f(r.perSessionPct)}% per session, ${f(r.marginalPct)}% above idle; floor ${f(r.floorPerSessionPct)}%: ×${f(r.perSessionPct / r.floorPerSessionPct)}), RSS ${f(w.rssMb, 0)} MB (idle ${f(idleRss, 0)} MB)` +
          `\n  gateway main thread waited for a CPU ${f(r.waitPct, 1)}% of the window; clients' process CPU ${f(clientCpuPct, 1)}%` +
          `\n  uplink ${r.up.count} packets (client sent ${sentInWindow}; ${r.up.lost} of ${uplinkSent} not handed over): client socket → backend p50/p99 ${pp(r.up.wire)} ms (max ${f(r.up.wire.max)}); gateway socket → backend ${pp(r.up.socket)} (werift ${pp(r.up.werift)}, caic decode+resample ${pp(r.up.caic)})` +
          `\n  downlink ${r.down.count} packets: backend event → socket, pacing apart, p50/p99 ${pp(r.down.processing)} ms (max ${f(r.down.processing.max)}; resample+frame+encode ${pp(r.down.encode)}, werift SRTP+send ${pp(r.down.send)}); pacing wait ${pp(r.down.pacing)} ms` +
          `\n  at the clients: ${r.client.received} frames, ${r.client.lost} lost, ${r.client.late} late (> ${LATE_MS} ms behind), jitter p99 ${f(r.client.jitterP99)} ms; unmatched timings ${w.unmatched.mic}/${w.unmatched.out}`,
      );
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.race([gw.ask({ cmd: 'quit' }).catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
    gw.proc.kill();
    clearTimeout(deadline);
  }

  console.log(`\n(${machine()}; ${PINNED ? 'gateway on CPU 1, clients and floor on CPU 0' : 'not pinned'}; ${SECONDS} s windows after ${WARMUP_S} s warm-up)\n`);
  console.log(`idle gateway: ${f(idlePct, 2)}% of a core, RSS ${f(idleRss, 0)} MB\n`);
  console.log('| sessions | gateway CPU (% of a core) | per session | above idle, per session | floor per session | gateway ÷ floor | RSS | uplink p50 / p99 (ms) | downlink p50 / p99 (ms) | pacing wait p50 / p99 | client lost / late | gateway waited for a CPU |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.n} | ${f(r.cpuPct, 1)} | ${f(r.perSessionPct)} | ${f(r.marginalPct)} | ${f(r.floorPerSessionPct)} | ${f(r.perSessionPct / r.floorPerSessionPct)} | ${f(r.rssMb, 0)} MB | ${pp(r.up.wire)} | ${pp(r.down.processing)} | ${pp(r.down.pacing)} | ${r.client.lost} / ${r.client.late} of ${r.client.received} | ${f(r.waitPct, 1)}% |`,
    );
  }
  const fields: Record<string, number> = { idle_rss_mb: idleRss, idle_cpu_pct: idlePct };
  for (const r of results) {
    Object.assign(fields, {
      [`s${r.n}_cpu_pct`]: r.cpuPct,
      [`s${r.n}_per_session_pct`]: r.perSessionPct,
      [`s${r.n}_above_idle_pct`]: r.marginalPct,
      [`s${r.n}_floor_pct`]: r.floorPerSessionPct,
      [`s${r.n}_rss_mb`]: r.rssMb,
      [`s${r.n}_up_p99_ms`]: r.up.wire.p99,
      [`s${r.n}_down_p99_ms`]: r.down.processing.p99,
      [`s${r.n}_late`]: r.client.late,
      [`s${r.n}_lost`]: r.client.lost,
    });
  }
  summary('bench:voice', fields);
}

const role = process.argv[2];
if (role === 'gateway') await gatewayProcess();
else if (role === 'floor') await floorProcess(Number(process.argv[3]), Number(process.argv[4]));
else await main();
