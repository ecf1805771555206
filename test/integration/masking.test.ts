// Secrets planted in config, env and login never appear whole in logs or API answers.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestDaemon } from '../helpers/daemon.js';
import { cookiePair, http } from '../helpers/http.js';
import { CLIENT, githubLoginToml, startStubForge } from '../helpers/stub-forge.js';

test('no planted secret reaches the log or an API response', async () => {
  const stub = await startStubForge();
  const planted = {
    glPat: 'glpat-PLANTED0000000000aaaa',
    webhook: 'whsec-PLANTED11111111bbbb',
    glWebhook: 'glwh-PLANTED22222222cccc',
    gemini: 'AIzaPLANTED333333333dddd',
    anthropic: 'sk-ant-PLANTED4444444eeee',
    tailscale: 'tskey-PLANTED55555555ffff',
    ghEnv: 'ghp_PLANTED666666666666gggg',
  };
  const toml = `
[core.env]
GEMINI_API_KEY = "${planted.gemini}"
[server]
allow_origins = ["local"]
external_url = "https://caic.test"
${githubLoginToml(stub, ['octocat'])}[github.app]
webhook_secret = "${planted.webhook}"
[gitlab]
webhook_secret = "${planted.glWebhook}"
[gitlab.pat]
token = "${planted.glPat}"
[harness.claude.env]
ANTHROPIC_API_KEY = "${planted.anthropic}"
`;
  const boom = 'boom-with-secret-inside';
  await using d = await startTestDaemon(toml, {
    env: { TAILSCALE_API_KEY: planted.tailscale, GITHUB_TOKEN: planted.ghEnv },
    logLevel: 'trace',
    extend: (app) => {
      app.get('/api/v1/test/fail', { config: { access: 'public' } }, () => {
        throw new Error(`${boom}: ${planted.glPat} ${planted.tailscale}`);
      });
    },
  });
  try {
    // Log in for real so provider tokens and a session exist.
    const start = await http(`${d.url}/api/v1/auth/github/start`, { headers: { host: 'caic.test' } });
    const stateCookie = cookiePair(start.setCookies[0]!);
    const approve = await http(String(start.headers.location));
    const cb = new URL(String(approve.headers.location));
    const done = await http(`${d.url}${cb.pathname}${cb.search}`, { headers: { host: 'caic.test', cookie: stateCookie } });
    assert.equal(done.status, 302, done.body);
    const session = cookiePair(done.setCookies.find((c) => c.startsWith('caic_session='))!);
    const jwt = session.split('=')[1]!;

    const responses = [
      await http(`${d.url}/api/v1/auth/me`, { headers: { host: 'caic.test', cookie: session } }),
      await http(`${d.url}/api/v1/server/config`, { headers: { host: 'caic.test' } }),
      await http(`${d.url}/healthz?token=${planted.ghEnv}`, { headers: { host: 'caic.test', authorization: `Bearer ${planted.glPat}` } }),
      await http(`${d.url}/api/v1/test/fail`, { headers: { host: 'caic.test', cookie: session } }),
      await http(`${d.url}/readyz`, { headers: { host: 'caic.test' } }),
    ];
    assert.equal(responses[3]!.status, 500);
    assert.deepEqual(responses[3]!.json(), { error: { code: 'INTERNAL_ERROR', message: 'internal error' } });

    const settings = JSON.parse(await readFile(join(d.configDir, 'settings.json'), 'utf8')) as { sessionSecret: string };
    const secrets = [...Object.values(planted), CLIENT.github.secret, settings.sessionSecret, ...stub.issuedTokens];
    assert.ok(stub.issuedTokens.length > 0);
    const logText = d.logs.text;
    assert.ok(logText.includes(boom), 'the failing request was logged');
    assert.ok(logText.includes(`****${planted.glPat.slice(-4)}`), 'secrets show as ****<last 4>');
    for (const secret of secrets) {
      assert.ok(!logText.includes(secret), `secret leaked into the log: ${secret.slice(0, 6)}…`);
      for (const r of responses) assert.ok(!r.body.includes(secret), `secret leaked into a response: ${secret.slice(0, 6)}…`);
    }
    // Session tokens and cookies are not logged either.
    assert.ok(!logText.includes(jwt));
  } finally {
    await stub.close();
  }
});
