// Token-endpoint refreshes per second: one refresh chain per worker, each refresh rotating its token
// (a write of the state file), against a daemon in this process on loopback (no login). Run by
// `bench:oauth` alone and by `bench:mcp` after its MCP-against-REST part.
import { performance } from 'node:perf_hooks';
import { startTestDaemon } from '../helpers/daemon.js';
import { authorize, CookieJar, pkcePair, register, token, type WalkTarget } from '../helpers/oauth-walk.js';
import { percentile, spread } from './lib.js';

const REDIRECT = 'https://client.example/callback';
const PER_WORKER = Number(process.env.BENCH_REFRESHES ?? 200);
const WORKERS = [1, 4];
const ROUNDS = 3;

async function refreshChain(t: WalkTarget): Promise<{ clientId: string; refresh: string }> {
  const c = await register(t, { client_name: 'bench', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
  const { verifier, challenge } = pkcePair();
  const back = await authorize(t, new CookieJar(), { response_type: 'code', client_id: c.client_id, redirect_uri: REDIRECT, scope: 'caic:tasks.read', code_challenge: challenge, code_challenge_method: 'S256' }, { scopes: ['caic:tasks.read'] });
  const res = await token(t, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, code_verifier: verifier, client_id: c.client_id, redirect_uri: REDIRECT });
  return { clientId: c.client_id, refresh: res.json<{ refresh_token: string }>().refresh_token };
}

/** Measures refreshes per second for 1 and 4 concurrent clients; prints a line each and returns the summary fields. */
export async function benchRefreshes(): Promise<Record<string, string>> {
  await using d = await startTestDaemon('', { logLevel: 'warn' });
  const t = { url: d.url };
  const fields: Record<string, string> = {};
  for (const workers of WORKERS) {
    const rates: number[] = [];
    const p50s: number[] = [];
    const p99s: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const chains = await Promise.all(Array.from({ length: workers }, () => refreshChain(t)));
      const lat: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        chains.map(async (chain) => {
          for (let i = 0; i < PER_WORKER; i++) {
            const s = performance.now();
            const res = await token(t, { grant_type: 'refresh_token', refresh_token: chain.refresh, client_id: chain.clientId });
            lat.push(performance.now() - s);
            if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${res.body}`);
            chain.refresh = res.json<{ refresh_token: string }>().refresh_token;
          }
        }),
      );
      rates.push((workers * PER_WORKER) / ((performance.now() - t0) / 1000));
      p50s.push(percentile(lat, 50));
      p99s.push(percentile(lat, 99));
    }
    console.log(`${workers} client(s): ${spread(rates)} refreshes/s, p50 ${spread(p50s, 1)} ms, p99 ${spread(p99s, 1)} ms`);
    fields[`refresh/s c=${workers}`] = spread(rates);
    fields[`p99 ms c=${workers}`] = spread(p99s, 1);
  }
  return fields;
}
