// A TLS front for a plain-HTTP test server, as a reverse proxy terminating HTTPS would be: lets a
// real browser reach the daemon at its https:// external URL (self-signed certificate by openssl).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { tempDir } from './tmp.js';

export interface TlsProxy extends AsyncDisposable {
  port: number;
  /** The certificate (PEM), its own CA: what a client outside the browser trusts (NODE_EXTRA_CA_CERTS). */
  cert: string;
}

/** A key and self-signed certificate (PEM) for `hostname` (a name or an IPv4 address), made by openssl; the certificate is its own CA. */
export async function selfSignedCert(hostname: string): Promise<{ key: Buffer; cert: string }> {
  await using dir = await tempDir('caic-tls-');
  const key = join(dir.path, 'key.pem');
  const cert = join(dir.path, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', `/CN=${hostname}`, '-addext', `subjectAltName=${/^\d+\.\d+\.\d+\.\d+$/.test(hostname) ? 'IP' : 'DNS'}:${hostname}`],
    { stdio: 'ignore' },
  );
  return { key: await readFile(key), cert: await readFile(cert, 'utf8') };
}

/**
 * Listens on 127.0.0.1 (on `port`, default any free one) with a certificate for `hostname` and
 * pipes each connection to `target`.
 */
export async function startTlsProxy(hostname: string, target: URL, port = 0): Promise<TlsProxy> {
  const { key, cert } = await selfSignedCert(hostname);
  const open = new Set<Socket>();
  const server = createServer({ key, cert }, (client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => open.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cert,
    async [Symbol.asyncDispose]() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
