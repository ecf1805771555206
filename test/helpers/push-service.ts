// A local Web Push service for tests: RFC 8030 (POST a message to a subscription's endpoint, TTL and
// Urgency headers, 201 Created), its subscriptions' browser-side keys (P-256 ECDH pair and auth
// secret, made with node:crypto), RFC 8291 aes128gcm decryption and RFC 8292 VAPID checks, written
// here from the RFCs.
import { createECDH, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { importJWK, jwtVerify } from 'jose';
import { tempDir } from './tmp.js';

export interface PushMessage {
  subscription: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A browser's side of one subscription: its keys, what it would send as PushSubscription.toJSON(). */
export interface TestSubscription {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  /** The ECDH private key, to decrypt. */
  ecdh: ReturnType<typeof createECDH>;
  authSecret: Buffer;
  /** Statuses to answer next, in order (then 201). */
  answers: number[];
  /** Every POST that reached this endpoint, whatever it was answered. */
  requests: PushMessage[];
  /** The POSTs answered 201. */
  delivered: PushMessage[];
}

export interface PushServiceStandIn extends AsyncDisposable {
  origin: string;
  /** The CA (the self-signed certificate) the daemon must trust. */
  ca: string;
  subscribe(): TestSubscription;
}

/** A key and certificate for 127.0.0.1 (an IP subjectAltName), self-signed by openssl. */
async function certFor127(): Promise<{ key: Buffer; cert: string }> {
  await using dir = await tempDir('caic-push-tls-');
  const key = join(dir.path, 'key.pem');
  const cert = join(dir.path, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { key: await readFile(key), cert: await readFile(cert, 'utf8') };
}

export async function startPushService(): Promise<PushServiceStandIn> {
  const { key, cert } = await certFor127();
  const subs = new Map<string, TestSubscription>();
  let n = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const m = /^\/push\/([a-z0-9]+)$/.exec(req.url ?? '');
    const sub = m ? subs.get(m[1]!) : undefined;
    if (req.method !== 'POST' || !sub) return res.writeHead(404).end();
    const msg: PushMessage = { subscription: sub.id, headers: req.headers, body: Buffer.concat(chunks) };
    sub.requests.push(msg);
    // RFC 8030 §5.2: TTL is required; §5.3: Urgency is one of four words.
    if (!/^\d+$/.test(String(req.headers.ttl ?? ''))) return res.writeHead(400).end('TTL header missing');
    if (req.headers.urgency && !['very-low', 'low', 'normal', 'high'].includes(String(req.headers.urgency))) return res.writeHead(400).end('bad Urgency');
    if (req.headers['content-encoding'] !== 'aes128gcm') return res.writeHead(415).end();
    const status = sub.answers.shift() ?? 201;
    if (status !== 201) return res.writeHead(status, status === 429 ? { 'retry-after': '0' } : {}).end();
    sub.delivered.push(msg);
    res.writeHead(201, { location: `/message/${sub.id}-${sub.delivered.length}` }).end();
  };
  const server: Server = createServer({ key, cert }, (req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    ca: cert,
    subscribe() {
      const id = `s${++n}${randomBytes(4).toString('hex')}`;
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const authSecret = randomBytes(16);
      const sub: TestSubscription = {
        id,
        endpoint: `${origin}/push/${id}`,
        keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
        ecdh,
        authSecret,
        answers: [],
        requests: [],
        delivered: [],
      };
      subs.set(id, sub);
      return sub;
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * RFC 8291 §3.4 and RFC 8188 §2: the aes128gcm body is salt (16) | record size (4) | key id length
 * (1) | key id (the sender's ephemeral public key) | one record. Keys: IKM from the ECDH secret
 * and the auth secret (info "WebPush: info\0" | ua_public | as_public), then the content key and
 * nonce from IKM and the salt. The record ends with the delimiter 0x02 and zero padding.
 */
export function decryptPush(sub: Pick<TestSubscription, 'ecdh' | 'authSecret'>, body: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error(`key id of ${idlen} bytes, not a P-256 point`);
  if (record.length > rs) throw new Error('more than one record');
  const uaPublic = sub.ecdh.getPublicKey();
  const ecdhSecret = sub.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0', 'latin1'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, sub.authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0', 'latin1'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0', 'latin1'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('the last record does not end with the 0x02 delimiter');
  return padded.subarray(0, end);
}

/**
 * RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`; the JWT is ES256-signed by that key, its
 * aud is the push service's origin, exp at most 24 h ahead, sub a mailto: or https: contact.
 * Returns the claims; throws when anything does not hold.
 */
export async function verifyVapid(headers: IncomingMessage['headers'], expectedPublicKey: string, audience: string): Promise<Record<string, unknown>> {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(headers.authorization ?? ''));
  if (!m) throw new Error(`no vapid authorization: ${String(headers.authorization)}`);
  const [, jwt, k] = m;
  if (k !== expectedPublicKey) throw new Error('k is not the server’s VAPID public key');
  const point = Buffer.from(k, 'base64url');
  const key = await importJWK({ kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') }, 'ES256');
  const { payload } = await jwtVerify(jwt!, key, { audience, algorithms: ['ES256'] });
  if (typeof payload.exp !== 'number' || payload.exp > Date.now() / 1000 + 24 * 3600) throw new Error('exp missing or more than 24 h ahead');
  if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) throw new Error('sub is not a contact');
  return payload;
}
