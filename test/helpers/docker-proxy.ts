// A TCP front for the Docker engine's socket that a test can take down and bring back on the same
// port, or cut (every open connection dies, the event stream included): Docker "unavailable"
// without touching the engine every other test on the machine uses. Point DOCKER_HOST at `host`.
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface DockerProxy extends AsyncDisposable {
  /** `tcp://127.0.0.1:<port>`, for DOCKER_HOST. */
  host: string;
  /** Stops listening and drops every connection: the engine is unreachable. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Drops every open connection; new ones keep working. Returns how many were cut. */
  cut(): number;
  /**
   * Holds back, until `release()`, the bytes of the connections whose request line matches `line`
   * from that request on: the requests themselves (the engine gets them late, e.g.
   * `/^POST \S*\/containers\/create/`), or with `answers` what the engine sends back on them (an
   * event stream, `/^GET \S*\/events[?\s]/`, then arrives late, as a slow engine delivers it).
   * `held()` counts the connections caught.
   */
  hold(line: RegExp, which?: 'requests' | 'answers'): Hold;
}

export interface Hold {
  held(): number;
  release(): void;
}

export async function startDockerProxy(socketPath = '/var/run/docker.sock', listen = true): Promise<DockerProxy> {
  const open = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  // What a hold() in force keeps back: bytes with the socket they are for, in order.
  interface Holding {
    line: RegExp;
    which: 'requests' | 'answers';
    queue: { to: Socket; chunk: Buffer }[];
    count: number;
  }
  let holding: Holding | null = null;
  const serve = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = createConnection({ path: socketPath });
        const pair = [client, upstream];
        for (const sock of pair) open.add(sock);
        const drop = () => {
          for (const sock of pair) {
            sock.destroy();
            open.delete(sock);
          }
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        // The connection's latest request line (an event stream's stays its first), and the hold
        // that caught it: from then on its bytes that way wait, in order, until the release.
        let request = '';
        let caught: Holding | null = null;
        const pass = (which: Holding['which'], to: Socket, chunk: Buffer) => {
          if (caught !== holding) caught = null;
          if (!caught && holding?.which === which && holding.line.test(request)) {
            caught = holding;
            caught.count++;
          }
          if (caught?.which === which) caught.queue.push({ to, chunk });
          else to.write(chunk);
        };
        client.on('data', (chunk: Buffer) => {
          const head = chunk.toString('latin1', 0, 200);
          if (/^[A-Z]+ \S+ HTTP\/1/.test(head)) request = head;
          pass('requests', upstream, chunk);
        });
        upstream.on('data', (chunk: Buffer) => pass('answers', client, chunk));
        client.on('end', () => upstream.end());
        upstream.on('end', () => client.end());
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = () => {
    const n = open.size / 2;
    for (const sock of [...open]) sock.destroy();
    open.clear();
    return n;
  };
  const down = async () => {
    const s = server;
    server = null;
    cut();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  // A port to come back to: taken once, then released while "down".
  await serve();
  if (!listen) await down();
  return {
    host: `tcp://127.0.0.1:${port}`,
    down,
    up: serve,
    cut,
    hold(line, which = 'requests') {
      const mine: Holding = { line, which, queue: [], count: 0 };
      holding = mine;
      return {
        held: () => mine.count,
        release() {
          if (holding === mine) holding = null;
          for (const { to, chunk } of mine.queue.splice(0)) if (!to.destroyed) to.write(chunk);
        },
      };
    },
    async [Symbol.asyncDispose]() {
      await down();
    },
  };
}
