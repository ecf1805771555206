// One daemon per cache directory: two would both attach to every task's relay (each cutting the
// other off, over and over) and append to the same task logs. The lock is a listening Unix socket,
// which the kernel releases when its process ends, however it ends (kill -9 included).
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { UserError } from './errors.js';

export interface InstanceLock {
  release(): Promise<void>;
}

/** Linux has an abstract socket namespace (no file, no path length limit); elsewhere a socket file in the directory. */
function socketName(dir: string): string {
  return process.platform === 'linux' ? `\0caic-daemon-${createHash('sha256').update(dir).digest('hex').slice(0, 40)}` : join(dir, 'daemon.sock');
}

const listen = (server: Server, name: string) =>
  new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(name, () => {
      server.off('error', rej);
      res();
    });
  });

/** Whether a process listens on the socket (a daemon that is alive), as opposed to a file a dead one left. */
const answers = (name: string) =>
  new Promise<boolean>((res) => {
    const s = connect(name);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });

/** Takes the cache directory for this process, or fails with a UserError naming what to do. */
export async function lockCacheDir(cacheDir: string): Promise<InstanceLock> {
  const dir = resolve(cacheDir);
  const name = socketName(dir);
  for (let attempt = 0; ; attempt++) {
    // Connections are only ever made to ask "alive?": each is closed at once.
    const server = createServer((s) => s.destroy());
    try {
      await listen(server, name);
      server.unref();
      return {
        release: () =>
          new Promise<void>((res) => {
            server.close(() => res());
          }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new UserError(`cannot lock ${dir}: ${(err as Error).message}`);
      if (attempt > 0 || (await answers(name))) {
        throw new UserError(`another caic is running with the cache directory ${dir} (task logs and containers); stop it first, or give this one its own XDG_CACHE_HOME`);
      }
      await rm(name, { force: true }); // left by a daemon that died (socket files only)
    }
  }
}
