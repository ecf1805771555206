// Tar archives for putArchive: files delivered into a container before it starts, with owner and mode.
import { pack } from 'tar-stream';

export interface ArchiveEntry {
  /** Path relative to the extraction root ('/'), e.g. `etc/ssh/ssh_host_ed25519_key`. */
  path: string;
  /** File content; absent for a directory. */
  content?: string | Buffer;
  mode: number;
  uid?: number;
  gid?: number;
}

export async function buildTar(entries: ArchiveEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const mtime = new Date();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.path, mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.content === undefined) p.entry({ ...header, type: 'directory' }, cb);
      else p.entry(header, e.content, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
