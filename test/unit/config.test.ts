// config.toml: defaults, every validation rule, unknown keys with their line, env fallbacks, example sync.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { ConfigFileSchema, configKeyPaths, defaultRoot, loadConfig, startDirectory, UserError, type Config } from '../../src/config/index.js';
import { buildCountryMmdb } from '../helpers/mmdb-writer.js';
import { tempDir } from '../helpers/tmp.js';

const OAUTH_OK = `
[server]
external_url = "https://caic.example.com"
[github.oauth]
client_id = "id"
client_secret = "secret-value"
allowed_users = ["alice"]
`;

async function load(toml: string | null, env: Record<string, string> = {}, files: Record<string, Buffer | string> = {}): Promise<Config> {
  await using dir = await tempDir();
  const configDir = join(dir.path, 'cfg');
  await mkdir(configDir);
  if (toml !== null) await writeFile(join(configDir, 'config.toml'), toml);
  for (const [name, content] of Object.entries(files)) await writeFile(join(configDir, name), content);
  return loadConfig({ configDir, cacheDir: join(dir.path, 'cache'), env });
}

/** The one-line error a config produces. */
async function loadError(toml: string, env: Record<string, string> = {}): Promise<string> {
  try {
    await load(toml, env);
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('defaults', () => {
  test('a missing file means every default, no auth', async () => {
    const c = await load(null);
    assert.equal(c.file, null);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 2242 });
    assert.equal(c.externalUrl, null);
    assert.deepEqual([...c.allowOrigins.names].sort(), ['github', 'local', 'tailscale']);
    assert.deepEqual(c.authProviders, []);
    assert.equal(c.geoDbPath, null);
    assert.equal(c.values.server.body_limit, 1 << 20);
    assert.equal(c.values.server.session_ttl_days, 30);
    assert.equal(c.values.debug.log_level, 'info');
    assert.equal(c.values.gitlab.url, 'https://gitlab.com');
    assert.equal(c.values['voice-gateway'].config.model, 'gemini-3.1-flash-live-preview');
  });

  test('an empty file equals no file', async () => {
    const a = await load(null);
    const b = await load('');
    assert.deepEqual(b.values, { ...a.values, core: { ...a.values.core, root: b.values.core.root } });
  });

  test('relative paths resolve against the config dir and ~ expands', async () => {
    const c = await load('[core]\nroot = "repos"\n');
    assert.ok(c.values.core.root.endsWith('/cfg/repos'), c.values.core.root);
    const dot = await load('[core]\nroot = "."\n');
    assert.ok(dot.values.core.root.endsWith('/cfg'), 'a path written in the file is read from the file\'s directory');
    const home = await load('[core]\nroot = "~/src"\n');
    assert.ok(home.values.core.root.endsWith('/src') && !home.values.core.root.includes('~'));
  });

  test('without [core] root, repositories are looked for where the command was started', async () => {
    await using dir = await tempDir();
    const configDir = join(dir.path, 'cfg');
    await mkdir(configDir);
    const started = join(dir.path, 'where-i-was');
    assert.equal(loadConfig({ configDir, env: {}, startDir: started }).values.core.root, started);
    // Under `npm start` the process runs in the checkout; npm says where it was invoked in INIT_CWD.
    assert.equal(loadConfig({ configDir, env: { INIT_CWD: started } }).values.core.root, started);
    assert.equal(loadConfig({ configDir, env: { INIT_CWD: 'relative/ignored' } }).values.core.root, process.cwd());
    assert.equal(loadConfig({ configDir, env: {} }).values.core.root, process.cwd());
    assert.equal(startDirectory({ INIT_CWD: '/from/npm' }, '/checkout'), '/from/npm');
    assert.equal(startDirectory({}, '/here'), '/here');
    // A service started in / (no working directory named) looks in the home directory instead.
    assert.equal(loadConfig({ configDir, env: {}, startDir: '/' }).values.core.root, homedir());
    assert.equal(defaultRoot('/srv/x', '/home/me'), '/srv/x');
    await writeFile(join(configDir, 'config.toml'), '[core]\nroot = ""\n');
    assert.equal(loadConfig({ configDir, env: {}, startDir: started }).values.core.root, started, '"" means not set');
  });

  test('cloning from the local disk is off unless allowed', async () => {
    assert.equal((await load(null)).values.core.allow_local_clone, false);
    assert.equal((await load('[core]\nallow_local_clone = true\n')).values.core.allow_local_clone, true);
  });

  test('the geo database is picked up from the config dir when present', async () => {
    const c = await load(null, {}, { 'GeoLite2-Country.mmdb': buildCountryMmdb([{ cidr: '81.2.69.0/24', country: 'GB' }]) });
    assert.ok(c.geoDbPath?.endsWith('/cfg/GeoLite2-Country.mmdb'));
  });
});

describe('validation', () => {
  test('unknown keys are errors naming the key and its line', async () => {
    const msg = await loadError('[server]\nhttp = ":2242"\nlisten = ":1"\n');
    assert.match(msg, /config\.toml:3: unknown key "server\.listen"/);
    assert.match(await loadError('[servr]\n'), /config\.toml:1: unknown key "servr"/);
    assert.match(await loadError('[harness.claud.env]\nX = "1"\n'), /unknown key "harness\.claud"/);
  });

  test('type errors name the key', async () => {
    assert.match(await loadError('[server]\nbody_limit = "big"\n'), /:2: server\.body_limit: /);
    assert.match(await loadError('[debug]\nlog_level = "loud"\n'), /debug\.log_level/);
  });

  test('TOML syntax errors give line and column', async () => {
    assert.match(await loadError('[server]\nhttp = \n'), /config\.toml:2:\d+: invalid TOML/);
  });

  test('an empty allow_origins is an error; allow-all must be explicit', async () => {
    assert.match(await loadError('[server]\nallow_origins = []\n'), /server\.allow_origins: must not be empty.*0\.0\.0\.0\/0/);
    const c = await load('[server]\nallow_origins = ["0.0.0.0/0", "::/0"]\n');
    assert.deepEqual(c.allowOrigins.cidrs, ['0.0.0.0/0', '::/0']);
  });

  test('allow_origins entries: names, CIDRs, bare IPs, countries; junk rejected', async () => {
    const c = await load('[server]\nallow_origins = ["LOCAL", "203.0.113.0/24", "2001:db8::1", "openai"]\n');
    assert.deepEqual([...c.allowOrigins.names].sort(), ['local', 'openai']);
    assert.deepEqual(c.allowOrigins.cidrs, ['203.0.113.0/24', '2001:db8::1/128']);
    assert.match(await loadError('[server]\nallow_origins = ["everyone"]\n'), /unknown entry "everyone"/);
    assert.match(await loadError('[server]\nallow_origins = ["10.0.0.0/33"]\n'), /unknown entry/);
  });

  test('country codes need a readable geo database', async () => {
    const msg = await loadError('[server]\nallow_origins = ["local", "ca"]\n');
    assert.match(msg, /server\.allow_origins: country codes \(CA\) need a GeoLite2-Country database/);
    assert.match(await loadError('[server]\ngeo_db = "missing.mmdb"\n'), /server\.geo_db: cannot read .*missing\.mmdb/);
    const c = await load('[server]\nallow_origins = ["CA"]\ngeo_db = "geo.mmdb"\n', {}, { 'geo.mmdb': buildCountryMmdb([]) });
    assert.deepEqual([...c.allowOrigins.countries], ['CA']);
  });

  test('trusted_proxies must be addresses or CIDRs', async () => {
    assert.match(await loadError('[server]\ntrusted_proxies = ["proxy.local"]\n'), /server\.trusted_proxies: "proxy\.local"/);
    const c = await load('[server]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n');
    assert.deepEqual(c.trustedProxies, ['127.0.0.1/32', '10.0.0.0/8']);
  });

  test('listen address and URLs are checked', async () => {
    assert.match(await loadError('[server]\nhttp = "2242:"\n'), /server\.http: invalid port/);
    assert.match(await loadError('[server]\nexternal_url = "https://x.example/caic"\n'), /server\.external_url: must be a bare origin/);
    assert.match(await loadError('[server]\nexternal_url = "ftp://x.example"\n'), /server\.external_url: must be an http/);
    assert.match(await loadError('[gitlab]\nurl = "https://git.example/sub"\n'), /gitlab\.url: must be a bare origin/);
  });

  test('OAuth client id and secret come in pairs', async () => {
    const msg = await loadError('[server]\nexternal_url = "https://c.example"\n[gitlab.oauth]\nclient_id = "x"\nallowed_users = ["a"]\n');
    assert.match(msg, /gitlab\.oauth: client_id and client_secret must be set together/);
  });

  test('OAuth needs an https external_url without a path', async () => {
    assert.match(await loadError(OAUTH_OK.replace('https://caic.example.com', 'auto')), /server\.external_url: github OAuth login needs an https/);
    assert.match(await loadError(OAUTH_OK.replace('https://', 'http://')), /needs an https/);
  });

  test('OAuth needs a non-empty allowed_users', async () => {
    assert.match(await loadError(OAUTH_OK.replace('["alice"]', '[]')), /github\.oauth\.allowed_users: must list at least one user/);
  });

  test('PAT and OAuth are mutually exclusive per forge', async () => {
    const msg = await loadError(`${OAUTH_OK}\n[github.pat]\ntoken = "ghp_x"\n`);
    assert.match(msg, /github\.pat\.token: a PAT and OAuth login are mutually exclusive/);
  });

  test('a valid OAuth config enables auth', async () => {
    const c = await load(OAUTH_OK);
    assert.deepEqual(c.authProviders, ['github']);
    assert.equal(c.externalUrl?.origin, 'https://caic.example.com');
  });
});

describe('environment', () => {
  test('GITHUB_TOKEN and GITLAB_TOKEN fill empty PATs', async () => {
    const c = await load(null, { GITHUB_TOKEN: 'ghp_fromenv', GITLAB_TOKEN: 'glpat-fromenv' });
    assert.equal(c.values.github.pat.token, 'ghp_fromenv');
    assert.equal(c.values.gitlab.pat.token, 'glpat-fromenv');
    assert.ok(c.secrets.includes('ghp_fromenv'));
  });

  test('GITHUB_TOKEN in the environment does not conflict with OAuth', async () => {
    const c = await load(OAUTH_OK, { GITHUB_TOKEN: 'ghp_fromenv' });
    assert.equal(c.values.github.pat.token, '');
  });

  test('[core.env] wins over the process environment', async () => {
    const c = await load('[core.env]\nGEMINI_API_KEY = "from-file"\n', { GEMINI_API_KEY: 'from-env', TAILSCALE_API_KEY: 'tskey-env' });
    assert.equal(c.env('GEMINI_API_KEY'), 'from-file');
    assert.equal(c.env('TAILSCALE_API_KEY'), 'tskey-env');
    assert.ok(c.secrets.includes('from-file') && c.secrets.includes('tskey-env'));
  });

  test('secret-looking [core.env] and harness env values are registered as secrets', async () => {
    const c = await load('[core.env]\nMY_API_KEY = "k-123456"\nPLAIN = "visible"\n[harness.claude.env]\nANTHROPIC_API_KEY = "sk-ant-1234"\n');
    assert.ok(c.secrets.includes('k-123456'));
    assert.ok(c.secrets.includes('sk-ant-1234'));
    assert.ok(!c.secrets.includes('visible'));
  });
});

describe('config.example.toml', () => {
  const examplePath = new URL('../../../config.example.toml', import.meta.url);
  const text = readFileSync(examplePath, 'utf8');

  function keyPaths(obj: Record<string, unknown>, prefix = ''): string[] {
    return Object.entries(obj).flatMap(([k, v]) => {
      const path = prefix ? `${prefix}.${k}` : k;
      // Free-form tables (env) are leaves in the schema too.
      if (v && typeof v === 'object' && !Array.isArray(v) && !path.endsWith('.env')) return keyPaths(v as Record<string, unknown>, path);
      return [path];
    });
  }

  test('documents exactly the schema keys', () => {
    const inExample = new Set(keyPaths(parseToml(text)));
    const inSchema = new Set(configKeyPaths());
    assert.deepEqual([...inSchema].filter((k) => !inExample.has(k)), [], 'schema keys missing from config.example.toml');
    assert.deepEqual([...inExample].filter((k) => !inSchema.has(k)), [], 'config.example.toml keys not in the schema');
  });

  test('every value in it is the default, and the real loader accepts it', async () => {
    assert.deepEqual(ConfigFileSchema.parse(parseToml(text)), ConfigFileSchema.parse({}));
    const loaded = await load(text);
    assert.notEqual(loaded.file, null);
  });

  test('every key has a comment nearby', () => {
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (!/^[a-z_]+ = /.test(line)) return;
      const context = lines.slice(Math.max(0, i - 6), i + 1).join('\n');
      assert.match(context, /#/, `no comment near line ${i + 1}: ${line}`);
    });
  });
});
