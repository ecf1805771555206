// GET /api/v1/voice/token on a real daemon: login on and off, voice off, the key on disk across restarts, `caic voice-gateway pubkey`, no secret leaks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ServerConfigResp, VoiceTokenResp } from '../../src/api/index.js';
import { parseEd25519PublicKey } from '../../src/config/index.js';
import { VOICE_INSTANCE_FILE_NAME, VOICE_KEY_FILE_NAME, VoiceTokenVerifier } from '../../src/voice/index.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const GEMINI = { GEMINI_API_KEY: 'AIza-test-not-a-real-key' };
/** Voice on: a standalone gateway. */
const STANDALONE = '[voice-gateway]\nurl = "https://voice.example.com"\n';
type Envelope = { error: { code: string; message: string }; details?: Record<string, unknown> };

/** The private key's encodings that must never be seen outside its file. */
async function privateForms(configDir: string): Promise<string[]> {
  const pem = await readFile(join(configDir, VOICE_KEY_FILE_NAME), 'utf8');
  const { createPrivateKey } = await import('node:crypto');
  const d = createPrivateKey(pem).export({ format: 'jwk' }).d!;
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  return [body, d, Buffer.from(d, 'base64url').toString('hex'), Buffer.from(d, 'base64url').toString('base64')];
}

function assertNoSecret(where: string, text: string, secrets: string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} holds the private key (${s.slice(0, 6)}…)`);
}

function pubkey(dir: TempDir, configDir: string) {
  const r = spawnSync(process.execPath, [CLI, 'voice-gateway', 'pubkey', '--config-dir', configDir], {
    env: { PATH: process.env.PATH, HOME: dir.path },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('no login, loopback listener', () => {
  test('a token for the local user for the standalone gateway; the same key after a restart; caic voice-gateway pubkey prints it', async () => {
    await using dir = await tempDir();
    const configDir = join(dir.path, 'config');
    let token: VoiceTokenResp;
    {
      await using d = await startTestDaemon(STANDALONE, { dir, configDir });
      const cfg = (await http(`${d.url}/api/v1/server/config`)).json<ServerConfigResp>();
      assert.deepEqual(cfg.voice, { enabled: true, mode: 'standalone', reason: '' });
      assert.equal(cfg.capabilities.voiceAvailable, true);
      const res = await http(`${d.url}/api/v1/voice/token`);
      assert.equal(res.status, 200, res.body);
      token = res.json<VoiceTokenResp>();
      assert.equal(token.gatewayUrl, 'https://voice.example.com', 'the standalone gateway');
      assert.deepEqual(token.capabilities, ['voice.session']);
      const left = Date.parse(token.expiresAt) - Date.now();
      assert.ok(left > 60_000 && left <= 300_000, `a few minutes (${left} ms)`);
      const verified = await d.daemon.voice.verifier.verify(token.token);
      assert.equal(verified.claims.sub, 'default');
      assert.equal(verified.claims.backendOrigin, new URL(d.url).origin);
      assert.equal(verified.claims.serviceInstanceID, (await readFile(join(configDir, VOICE_INSTANCE_FILE_NAME), 'utf8')).trim());
      assert.equal(verified.form, 'jws');
      // The key: 0600 in the 0700 config directory.
      assert.equal((await stat(join(configDir, VOICE_KEY_FILE_NAME))).mode & 0o777, 0o600);
      assert.equal((await stat(configDir)).mode & 0o777, 0o700);
      const secrets = await privateForms(configDir);
      assertNoSecret('the token answer', res.body, secrets);
      assertNoSecret('the server config', JSON.stringify(cfg), secrets);
      assertNoSecret('the log', d.logs.text, secrets);
      assert.ok(!d.logs.text.includes(token.token), 'the token itself is not logged');
      assert.equal(d.logs.find('created the voice token signing key').length, 1);
    }
    // A restart reuses the key: the token issued before still verifies, and so does a new one.
    {
      await using d = await startTestDaemon(STANDALONE, { dir, configDir });
      assert.equal(d.logs.find('created the voice token signing key').length, 0);
      assert.ok(await d.daemon.voice.verifier.verify(token.token), 'a token of the previous run');
      const again = (await http(`${d.url}/api/v1/voice/token`)).json<VoiceTokenResp>();
      assert.notEqual(again.token, token.token);
      assert.equal((await d.daemon.voice.verifier.verify(again.token)).claims.serviceInstanceID, (await d.daemon.voice.verifier.verify(token.token)).claims.serviceInstanceID);
    }
    // What the CLI prints for a standalone gateway verifies the daemon's tokens.
    const out = pubkey(dir, configDir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ed25519:[A-Za-z0-9_-]{43}\n$/);
    const instance = (await readFile(join(configDir, VOICE_INSTANCE_FILE_NAME), 'utf8')).trim();
    assert.match(out.stderr, new RegExp(`\\[\\[voice-gateway\\.trusted_issuers\\]\\]\\nservice = "caic"\\nissuer = "${instance}"\\npublic_key = "${out.stdout.trim()}"`));
    const gateway = new VoiceTokenVerifier({ issuers: [{ service: 'caic', issuer: instance, publicKey: parseEd25519PublicKey(out.stdout.trim()) }] });
    assert.equal((await gateway.verify(token.token)).claims.sub, 'default');
    assertNoSecret('pubkey output', out.stdout + out.stderr, await privateForms(configDir));
  });

  test('caic voice-gateway pubkey on a fresh directory makes the key, then prints the same one; a bad configured key is one line', async () => {
    await using dir = await tempDir();
    const configDir = join(dir.path, 'fresh');
    const first = pubkey(dir, configDir);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /^created .*voice-signing-key\.pem\n/);
    assert.equal((await stat(join(configDir, VOICE_KEY_FILE_NAME))).mode & 0o777, 0o600);
    const second = pubkey(dir, configDir);
    assert.equal(second.stdout, first.stdout);
    assert.doesNotMatch(second.stderr, /created/);
    // The daemon signs with that key.
    await using d = await startTestDaemon(STANDALONE, { dir, configDir });
    const token = (await http(`${d.url}/api/v1/voice/token`)).json<VoiceTokenResp>().token;
    const instance = (await readFile(join(configDir, VOICE_INSTANCE_FILE_NAME), 'utf8')).trim();
    const gateway = new VoiceTokenVerifier({ issuers: [{ service: 'caic', issuer: instance, publicKey: parseEd25519PublicKey(first.stdout.trim()) }] });
    assert.ok(await gateway.verify(token));

    const badDir = join(dir.path, 'bad');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(badDir);
    await writeFile(join(badDir, 'config.toml'), '[voice-gateway]\nsigning_private_key_pem = "nope.pem"\n');
    const bad = pubkey(dir, badDir);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^caic: voice-gateway\.signing_private_key_pem: cannot read .*nope\.pem: .*\n$/);
    // The daemon refuses to start with it too, in one line.
    await assert.rejects(startTestDaemon(`${STANDALONE}signing_private_key_pem = "nope.pem"\n`), /signing_private_key_pem: cannot read/);
  });

  test('the private key is masked should anything log it', async () => {
    await using dir = await tempDir();
    const configDir = join(dir.path, 'config');
    await using d = await startTestDaemon(STANDALONE, {
      dir,
      configDir,
      extend: (app) => {
        app.get('/api/v1/test/leak', async (req) => {
          const [pemBody, d] = await privateForms(configDir);
          req.log.error({ pemBody, jwk: { d } }, `careless ${d}`);
          return { ok: true };
        });
      },
    });
    assert.equal((await http(`${d.url}/api/v1/test/leak`)).status, 200);
    assert.ok(d.logs.text.includes('careless'), 'the line was logged');
    assertNoSecret('the log', d.logs.text, (await privateForms(configDir)).slice(0, 2));
  });

  test('voice off: 409 with the reason and the fix; the config says so; no key is made', async () => {
    await using d = await startTestDaemon('');
    const cfg = (await http(`${d.url}/api/v1/server/config`)).json<ServerConfigResp>();
    assert.equal(cfg.voice.enabled, false);
    assert.equal(cfg.voice.mode, 'off');
    // Both ways to turn it on: the key for the embedded gateway, or a standalone gateway's URL.
    assert.match(cfg.voice.reason, /set GEMINI_API_KEY for the embedded gateway \(gemini-live\), or \[voice-gateway\] url/);
    assert.equal(cfg.capabilities.voiceAvailable, false);
    const res = await http(`${d.url}/api/v1/voice/token`);
    assert.equal(res.status, 409);
    const body = res.json<Envelope>();
    assert.equal(body.error.code, 'CONFLICT');
    assert.equal(body.error.message, cfg.voice.reason);
    assert.deepEqual(body.details, { mode: 'off' });
    await assert.rejects(stat(join(d.configDir, VOICE_KEY_FILE_NAME)), { code: 'ENOENT' });
  });

  test("embedded (a key set): a token for the daemon's own gateway; a backend that cannot run here: off with its reason; token_mode = ed25519 gives the compact form", async () => {
    {
      await using e = await startTestDaemon('', { env: GEMINI });
      const cfg = (await http(`${e.url}/api/v1/server/config`)).json<ServerConfigResp>();
      assert.deepEqual(cfg.voice, { enabled: true, mode: 'embedded', reason: '' });
      assert.equal(cfg.capabilities.voiceAvailable, true);
      const res = await http(`${e.url}/api/v1/voice/token`);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json<VoiceTokenResp>().gatewayUrl, new URL(e.url).origin, 'the embedded gateway is the daemon itself');
    }
    {
      // The local stack without its servers: off with what to set, never a token for a gateway that is not there.
      await using e = await startTestDaemon('[voice-gateway.config]\nbackend = "local-stack"\n', { env: {} });
      const cfg = (await http(`${e.url}/api/v1/server/config`)).json<ServerConfigResp>();
      assert.equal(cfg.voice.enabled, false, 'no voice button that leads nowhere');
      assert.equal(cfg.voice.mode, 'off');
      assert.match(cfg.voice.reason, /local_stack\.asr\] remote/);
      const refused = await http(`${e.url}/api/v1/voice/token`);
      assert.equal(refused.status, 409, refused.body);
      assert.equal(e.daemon.voiceGateway, null);
    }
    {
      // With its servers named (espeak-ng is installed here), the local stack runs embedded.
      const servers = '[voice-gateway.config.local_stack.asr]\nremote = "http://127.0.0.1:9"\n[voice-gateway.config.local_stack.llm]\nremote = "http://127.0.0.1:9"\n';
      await using e = await startTestDaemon(`[voice-gateway.config]\nbackend = "local-stack"\n${servers}`, { env: {} });
      const cfg = (await http(`${e.url}/api/v1/server/config`)).json<ServerConfigResp>();
      assert.deepEqual(cfg.voice, { enabled: true, mode: 'embedded', reason: '' });
      assert.equal((await http(`${e.url}/api/v1/voice/token`)).status, 200);
    }
    await using d = await startTestDaemon(`${STANDALONE}token_mode = "ed25519"\ninstance_id = "home"\n`);
    const res = await http(`${d.url}/api/v1/voice/token`);
    assert.equal(res.status, 200, res.body);
    const { token } = res.json<VoiceTokenResp>();
    assert.equal(token.split('.').length, 2);
    const v = await d.daemon.voice.verifier.verify(token);
    assert.equal(v.form, 'compact');
    assert.equal(v.claims.serviceInstanceID, 'home');
  });
});

describe('login on', () => {
  let stub: StubForge;
  before(async () => {
    stub = await startStubForge();
  });
  after(() => stub.close());

  const HOST = 'caic.test';
  const toml = (extra = '') => `
[server]
allow_origins = ["local"]
external_url = "https://${HOST}"
${githubLoginToml(stub, ['octocat'])}
${extra}`;

  test('signed in: a token for that user; no session or a bad one: 401', async () => {
    await using d = await startTestDaemon(toml(STANDALONE));
    const none = await http(`${d.url}/api/v1/voice/token`, { headers: { host: HOST } });
    assert.equal(none.status, 401);
    assert.equal(none.json<Envelope>().error.code, 'UNAUTHORIZED');
    const forged = await http(`${d.url}/api/v1/voice/token`, { headers: { host: HOST, authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x' } });
    assert.equal(forged.status, 401);
    // The public config tells a signed-out client whether voice is there.
    assert.equal((await http(`${d.url}/api/v1/server/config`, { headers: { host: HOST } })).json<ServerConfigResp>().voice.enabled, true);

    const headers = await signIn(d.url, HOST, stub, { id: 42, username: 'octocat' });
    const res = await http(`${d.url}/api/v1/voice/token`, { headers });
    assert.equal(res.status, 200, res.body);
    const token = res.json<VoiceTokenResp>();
    assert.equal(token.gatewayUrl, 'https://voice.example.com');
    const v = await d.daemon.voice.verifier.verify(token.token);
    const user = JSON.parse(await readFile(join(d.configDir, 'users.json'), 'utf8')) as { users: { id: string; username: string }[] };
    assert.equal(v.claims.sub, user.users.find((u) => u.username === 'octocat')!.id);
    assert.equal(v.claims.backendOrigin, `https://${HOST}`, 'external_url, not the address the request came to');
    assertNoSecret('the log', d.logs.text, await privateForms(d.configDir));
  });

  test('a standalone gateway: its URL is advertised, tokens are signed with a configured PEM key', async () => {
    await using dir = await tempDir();
    const { generateKeyPairSync } = await import('node:crypto');
    const key = generateKeyPairSync('ed25519');
    await dir.file('voice.pem', key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    const configDir = join(dir.path, 'config');
    const { mkdir, copyFile } = await import('node:fs/promises');
    await mkdir(configDir, { recursive: true });
    await copyFile(join(dir.path, 'voice.pem'), join(configDir, 'voice.pem'));
    await using d = await startTestDaemon(
      toml('[voice-gateway]\nurl = "https://voice.example.com/"\ninstance_id = "home"\nsigning_private_key_pem = "voice.pem"\n'),
      { dir, configDir },
    );
    const cfg = (await http(`${d.url}/api/v1/server/config`, { headers: { host: HOST } })).json<ServerConfigResp>();
    assert.deepEqual(cfg.voice, { enabled: true, mode: 'standalone', reason: '' });
    const headers = await signIn(d.url, HOST, stub, { id: 7, username: 'octocat' });
    const token = (await http(`${d.url}/api/v1/voice/token`, { headers })).json<VoiceTokenResp>();
    assert.equal(token.gatewayUrl, 'https://voice.example.com');
    const gateway = new VoiceTokenVerifier({ issuers: [{ service: 'caic', issuer: 'home', publicKey: key.publicKey }] });
    assert.equal((await gateway.verify(token.token)).claims.backendOrigin, `https://${HOST}`);
    await assert.rejects(stat(join(configDir, VOICE_KEY_FILE_NAME)), { code: 'ENOENT' }, 'no key generated beside a configured one');
    assertNoSecret('the log', d.logs.text, [key.privateKey.export({ format: 'jwk' }).d!]);
  });
});
