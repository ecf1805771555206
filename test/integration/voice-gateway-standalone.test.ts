// `caic voice-gateway` as its own process, trusting a daemon's `caic voice-gateway pubkey`: a full session through it, token refusals (a caic session cookie too), CORS, /healthz, SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import type { VoiceTokenResp } from '../../src/api/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { GeminiLiveStandIn, rms, tone } from '../helpers/gemini-live-standin.js';
import { http } from '../helpers/http.js';
import { speak } from '../helpers/speech.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { makeOffer, OfferRefused, postOffer, VoiceTestClient } from '../helpers/voice-client.js';
import { refusedTokens } from '../helpers/voice-tokens.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const KEY = 'AIzaSyStandInKey-0123456789abcdefWXYZ';
const SOUND_RMS = 0.01;

/** Starts `caic voice-gateway` and reads the URL it prints; its stderr is kept for the failure message. */
async function startGateway(dir: TempDir, configDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'voice-gateway', '--config-dir', configDir, '--listen', '127.0.0.1:0', '--log-format', 'json'], {
    env: { PATH: process.env.PATH, HOME: dir.path, GEMINI_API_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 20 s:\n${out}`)), 20_000);
    const check = () => {
      const m = /voice gateway listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code}):\n${out}`));
    });
  });
  return { child, url, output: () => out };
}

describe('standalone caic voice-gateway', () => {
  let dir: TempDir;
  let standIn: GeminiLiveStandIn;
  let gateway: { child: ChildProcess; url: string; output: () => string };
  let host: TestDaemon;
  before(async () => {
    dir = await tempDir();
    standIn = await GeminiLiveStandIn.start({ apiKey: KEY });
    const hostDir = join(dir.path, 'host');
    const gatewayDir = join(dir.path, 'gateway');
    await mkdir(hostDir, { recursive: true, mode: 0o700 });
    await mkdir(gatewayDir, { recursive: true, mode: 0o700 });
    // What a person does: print the host's key and paste the entry into the gateway's config.
    const pub = spawnSync(process.execPath, [CLI, 'voice-gateway', 'pubkey', '--config-dir', hostDir], { env: { PATH: process.env.PATH, HOME: dir.path }, encoding: 'utf8' });
    assert.equal(pub.status, 0, pub.stderr);
    const entry = pub.stderr.slice(pub.stderr.indexOf('[[voice-gateway.trusted_issuers]]'));
    await writeFile(
      join(gatewayDir, 'config.toml'),
      `[voice-gateway]\n\n${entry}\n[voice-gateway.config]\ngemini_url = "${standIn.url}"\n[voice-gateway.config.server]\nannounce_addresses = ["127.0.0.1"]\n`,
    );
    gateway = await startGateway(dir, gatewayDir);
    host = await startTestDaemon(`[voice-gateway]\nurl = "${gateway.url}"\n`, { configDir: hostDir, dir });
  });
  after(async () => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    await host[Symbol.asyncDispose]();
    await standIn.close();
    await dir[Symbol.asyncDispose]();
  });

  async function token(): Promise<VoiceTokenResp> {
    const res = await http(`${host.url}/api/v1/voice/token`);
    assert.equal(res.status, 200, res.body);
    return res.json<VoiceTokenResp>();
  }

  test('a full session through the gateway with the host\'s token: speech to the model, tool call and result, the answer heard; CORS for the host\'s page', async () => {
    const t = await token();
    assert.equal(t.gatewayUrl, gateway.url, 'the host points its clients at the standalone gateway');
    assert.deepEqual((await http(`${gateway.url}/healthz`)).json(), { status: 'ok' });
    const origin = new URL(host.url).origin;
    const preflight = await http(`${gateway.url}/api/v1/voice/rtc/offer`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], origin);
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    assert.equal(preflight.headers['access-control-allow-credentials'], undefined, 'no credentials: tokens only');

    await using client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token, headers: { origin } });
    const next = standIn.session();
    await client.setup({ tools: [{ name: 'tasks_list', description: 'List the tasks' }] });
    const model = await next;
    const speech = await speak('what are my tasks doing', 48_000);
    await client.speak(speech);
    await model.until(() => model.audioSamples >= (speech.length / 3) * 0.9, 'the speech');
    const loudest = Math.max(...Array.from({ length: Math.floor(model.audioSamples / 320) }, (_, i) => rms(model.allAudio().subarray(i * 320, i * 320 + 320))));
    assert.ok(loudest > 1000, `speech energy at the model: ${loudest}`);
    model.toolCall([{ id: 'c1', name: 'tasks_list', args: {} }]);
    await client.message('tool.call');
    client.send({ type: 'tool.result', id: 'c1', name: 'tasks_list', result: { tasks: [] } });
    assert.deepEqual((await model.waitForToolResponse()).response, { tasks: [] });
    model.audioOut(tone(440, 500, 24_000));
    model.turnComplete();
    await client.until(() => client.frames.filter((f) => f.rms > SOUND_RMS).length >= 15, 'the answer');
  });

  test('refusals: wrong issuer key, wrong aud, expired, tampered, missing capability, no token, a caic session cookie or session JWT → 401', async () => {
    const id = host.daemon.voice.identity!;
    const { sdp, pc } = await makeOffer();
    try {
      for (const bad of await refusedTokens({ privateKey: id.key.privateKey, instanceId: id.instanceId, origin: new URL(host.url).origin })) {
        const res = await postOffer(gateway.url, bad.token, sdp);
        assert.equal(res.status, 401, `${bad.name}: ${JSON.stringify(res.body)}`);
        assert.match(JSON.stringify(res.body), bad.reason, bad.name);
      }
      // A caic session (an HS256 JWT as the daemon makes them), as a cookie and as a bearer: the gateway knows no sessions.
      const session = await new SignJWT({ sub: 'default' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(Buffer.alloc(32, 7));
      assert.equal((await postOffer(gateway.url, null, sdp, { cookie: `caic_session=${session}` })).status, 401);
      const asBearer = await postOffer(gateway.url, session, sdp);
      assert.equal(asBearer.status, 401);
      assert.match(JSON.stringify(asBearer.body), /not EdDSA/);
      assert.equal((await postOffer(gateway.url, null, sdp)).status, 401);
      // Its own host's token with the host's origin as issuer still works (the refusals were for their reason).
      const ok = await VoiceTestClient.connect({ gatewayUrl: gateway.url, token: (await token()).token }).catch((e: unknown) => e);
      assert.ok(!(ok instanceof OfferRefused), String(ok));
      await (ok as VoiceTestClient).close();
    } finally {
      await pc.close();
    }
  });

  test('SIGTERM: open sessions end (client and model both hear it) and the process exits 0', async () => {
    const t = await token();
    const client = await VoiceTestClient.connect({ gatewayUrl: t.gatewayUrl, token: t.token });
    const next = standIn.session();
    await client.setup();
    const model = await next;
    const exited = once(gateway.child, 'exit');
    gateway.child.kill('SIGTERM');
    const [code] = (await exited) as [number];
    assert.equal(code, 0, gateway.output());
    assert.match(await client.closed(5_000), /closed/);
    await model.until(() => model.closed !== undefined, 'the model connection to close');
    assert.match(gateway.output(), /voice session ended/);
    await client.close();
  });
});
