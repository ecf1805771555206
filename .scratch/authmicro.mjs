import { createAuthStep } from '../dist/src/http/auth/hooks.js';
import { HostLock, SessionManager } from '../dist/src/http/auth/index.js';
import { applySecurityHeaders } from '../dist/src/http/headers.js';
import { UserStore } from '../dist/src/config/index.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
const users = await UserStore.open(mkdtempSync('/tmp/u'));
const user = await users.upsert({ provider: 'github', providerId: '1', username: 'b', avatarURL: '', accessToken: 'x' });
const sessions = new SessionManager(randomBytes(32), users, { ttlSeconds: 3600 });
const { token } = await sessions.issue(user); await sessions.verify(token);
const step = createAuthStep({ hostLock: new HostLock(new URL('https://caic.example')), sessions });
const req = { method: 'GET', headers: { host: '127.0.0.1:2242', authorization: `Bearer ${token}` }, client: { viaTrustedProxy: true }, protocol: 'http', user: null };
const hdrs = {}; const reply = { headers(o) { Object.assign(hdrs, o); return this; }, header(k, v) { hdrs[k] = v; return this; } };
const N = 2_000_000; let n = 0; const done = () => n++;
for (let k = 0; k < 3; k++) {
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) step(req, reply, done);
  let t1 = process.hrtime.bigint();
  console.log('auth step', (Number(t1 - t0) / N).toFixed(0), 'ns', n);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) applySecurityHeaders(req, reply);
  t1 = process.hrtime.bigint();
  console.log('headers step (fake reply)', (Number(t1 - t0) / N).toFixed(0), 'ns');
}
