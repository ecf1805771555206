import { createGateStep } from '../dist/src/http/gate/hook.js';
import { Gate } from '../dist/src/http/gate/index.js';
import { openGeoDb } from '../dist/src/http/gate/index.js';
import { buildCountryMmdb } from '../dist/test/helpers/mmdb-writer.js';
import { writeFileSync } from 'node:fs';
writeFileSync('/tmp/b.mmdb', buildCountryMmdb([{ cidr: '185.0.0.0/10', country: 'CA' }]));
const geo = await openGeoDb('/tmp/b.mmdb');
const cidrs = []; for (let i = 0; cidrs.length < 1000; i++) cidrs.push(`${20 + (i % 60)}.${(i * 7) % 256}.${Math.floor(i / 60)}.0/24`);
const gate = new Gate({ allow: { names: new Set(['local','tailscale']), cidrs, countries: new Set(['CA']) }, trustedProxies: ['127.0.0.1/32'], geo });
const step = createGateStep(gate);
const socket = { remoteAddress: '127.0.0.1', bytesWritten: 0 };
const ips = Array.from({ length: 50 }, (_, i) => `185.${i}.3.4`);
const reqs = ips.map((ip) => ({ raw: { socket }, headers: { 'x-forwarded-for': ip } }));
const reply = {};
let n = 0; const N = 2_000_000;
for (let k = 0; k < 3; k++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { if (step(reqs[i % 50], reply)) n++; }
  const t1 = process.hrtime.bigint();
  console.log('gate step', (Number(t1 - t0) / N).toFixed(0), 'ns/request', n);
}
