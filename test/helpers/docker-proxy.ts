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
   * Holds back what the engine sends on its event streams (`GET …/events`) until the returned
   * function is called: events then arrive late, as a slow engine delivers them.
   */
  holdEvents(): () => void;
  /**
   * Holds back requests whose head matches `line` (e.g. `/^POST \S*\/containers\/create/`), and
   * whatever follows them on their connection, until `release()`: the engine gets them late.
   */
  holdRequests(line: RegExp): { held(): number; release(): void };
}

export async function startDockerProxy(socketPath = '/var/run/docker.sock', listen = true): Promise<DockerProxy> {
  const open = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  // Event-stream bytes held back, per connection, while a holdEvents() is in force.
  let held: { client: Socket; chunk: Buffer }[] | null = null;
  // Request bytes held back while a holdRequests() is in force.
  let heldRequests: { line: RegExp; queue: { upstream: Socket; chunk: Buffer }[]; count: number } | null = null;
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
        // A connection stays held from its matching request on (its bytes keep their order).
        let holding = false;
        client.on('data', (chunk: Buffer) => {
          const h = heldRequests;
          if (h && (holding || h.line.test(chunk.toString('latin1', 0, 200)))) {
            if (!holding) h.count++;
            holding = true;
            h.queue.push({ upstream, chunk });
            return;
          }
          holding = false;
          upstream.write(chunk);
        });
        client.on('end', () => upstream.end());
        // Which connection carries an event stream: its request line names the path.
        let events = false;
        client.once('data', (first: Buffer) => (events = /^GET \S*\/events[?\s]/.test(first.toString('latin1', 0, 200))));
        upstream.on('data', (chunk: Buffer) => {
          if (events && held) held.push({ client, chunk });
          else client.write(chunk);
        });
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
    holdRequests(line) {
      const mine = { line, queue: [] as { upstream: Socket; chunk: Buffer }[], count: 0 };
      heldRequests = mine;
      return {
        held: () => mine.count,
        release() {
          if (heldRequests === mine) heldRequests = null;
          for (const { upstream, chunk } of mine.queue) if (!upstream.destroyed) upstream.write(chunk);
        },
      };
    },
    holdEvents() {
      const mine: { client: Socket; chunk: Buffer }[] = [];
      held = mine;
      return () => {
        if (held === mine) held = null;
        for (const { client, chunk } of mine) if (!client.destroyed) client.write(chunk);
      };
    },
    async [Symbol.asyncDispose]() {
      await down();
    },
  };
}
