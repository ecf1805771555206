// Egress policy decisions (src/tasks/egress.ts): which policy a task gets, what presets stand for,
// the proxy's table read as hostile input, the container options, the config keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigFileSchema } from '../../src/config/schema.js';
import { BASE_CAPABILITIES, buildCreateOptions, EGRESS_CAPABILITIES, SUDO_CAPABILITIES } from '../../src/containers/index.js';
import { allowEntry, egressField, egressProblem } from '../../web/src/lib/egress.js';
import { checkEgressWithSudo, forgeHosts, modelHosts, parseBlockedTable, REGISTRY_HOSTS, resolveEgress, urlEntry, type EgressSettings } from '../../src/tasks/egress.js';

const settings: EgressSettings = {
  mode: 'none',
  allow: ['example.com'],
  repos: [
    { name: 'org/app', mode: 'allowlist', allow: ['@forge', '@model', 'api.example.com:8443'] },
    { name: 'org/lib', allow: ['lib.example.com'] },
  ],
  pollMs: 0,
};
const ctx = { forge: ['github.com', 'api.github.com'], model: ['api.anthropic.com'] };

describe('egress policy of a new task', () => {
  test('the global default, a repository override, the request over both', () => {
    assert.deepEqual(resolveEgress(undefined, settings, ctx), { mode: 'none', allow: [] });
    assert.deepEqual(resolveEgress(undefined, settings, { ...ctx, repo: 'org/app' }), {
      mode: 'allowlist',
      allow: ['github.com', 'api.github.com', 'api.anthropic.com', 'api.example.com:8443'],
    });
    // A repository that overrides the list only keeps the global mode.
    assert.deepEqual(resolveEgress(undefined, settings, { ...ctx, repo: 'org/lib' }), { mode: 'none', allow: [] });
    assert.deepEqual(resolveEgress({ mode: 'allowlist' }, settings, { ...ctx, repo: 'org/lib' }), { mode: 'allowlist', allow: ['lib.example.com'] });
    assert.deepEqual(resolveEgress({ mode: 'allowlist', allow: ['@registries', 'registry.npmjs.org', 'X.example'] }, settings, ctx), {
      mode: 'allowlist',
      allow: [...REGISTRY_HOSTS, 'x.example'],
    });
    assert.deepEqual(resolveEgress({ mode: 'open' }, settings, { ...ctx, repo: 'org/app' }), { mode: 'open', allow: [] });
  });

  test('sudo only with egress open', () => {
    assert.throws(() => checkEgressWithSudo({ mode: 'allowlist', allow: [] }, true), /sudo cannot have an egress policy/);
    assert.throws(() => checkEgressWithSudo({ mode: 'none', allow: [] }, true), /sudo/);
    checkEgressWithSudo({ mode: 'open', allow: [] }, true);
    checkEgressWithSudo({ mode: 'none', allow: [] }, false);
  });

  test('presets: the forge of the remote, the model API and base URLs of the agent', () => {
    assert.deepEqual(forgeHosts('https://github.com/org/app.git'), ['github.com', 'api.github.com', 'codeload.github.com', '*.githubusercontent.com']);
    assert.deepEqual(forgeHosts('https://ghe.example.com/org/app', [{ url: 'https://ghe.example.com', apiUrl: 'https://ghe.example.com/api/v3' }, { url: 'https://gitlab.com' }]), ['ghe.example.com']);
    assert.deepEqual(forgeHosts('https://ghe.example.com/org/app', [{ url: 'https://ghe.example.com', apiUrl: 'https://api.ghe.example.com' }]), ['ghe.example.com', 'api.ghe.example.com']);
    assert.deepEqual(forgeHosts('https://git.example.com:8443/org/app'), ['git.example.com:8443']);
    assert.deepEqual(forgeHosts(''), []);
    assert.deepEqual(modelHosts('claude', { ANTHROPIC_BASE_URL: 'http://10.0.0.5:8080/v1', ANTHROPIC_API_KEY: 'sk-ant-x', OTHER: 'https://x.example' }), ['api.anthropic.com', '10.0.0.5:8080']);
    assert.deepEqual(modelHosts('fake', {}), []);
    assert.equal(urlEntry('http://[::1]:9/x'), '[::1]:9');
    assert.equal(urlEntry('https://[fd00::1]/'), 'fd00::1');
    assert.equal(urlEntry('ftp://x.example'), null);
  });
});

describe('the proxy table, read from the container', () => {
  test('a well-formed table', () => {
    const rows = [{ host: 'evil.example', port: 443, count: 3, lastAt: '2026-01-01T00:00:00.000Z' }];
    assert.deepEqual(parseBlockedTable(JSON.stringify({ blocked: rows })), rows);
  });
  test('anything else is nothing', () => {
    for (const text of ['', 'not json', '{}', '{"blocked":[{"host":"","port":1,"count":1,"lastAt":"2026-01-01T00:00:00.000Z"}]}', '{"blocked":[{"host":"a","port":70000,"count":1,"lastAt":"2026-01-01T00:00:00.000Z"}]}', '{"blocked":[{"host":"a","port":1,"count":-1,"lastAt":"x"}]}', JSON.stringify({ blocked: Array.from({ length: 301 }, () => ({ host: 'a', port: 1, count: 1, lastAt: '2026-01-01T00:00:00.000Z' })) })]) {
      assert.equal(parseBlockedTable(text), null, text.slice(0, 80));
    }
  });
});

describe('container options and config', () => {
  test('NET_ADMIN and SETPCAP only with a policy; the network', () => {
    const base = { name: 'n', image: 'i', labels: {}, sudo: false };
    assert.deepEqual(buildCreateOptions(base)._body.HostConfig.CapAdd, [...BASE_CAPABILITIES]);
    assert.equal(buildCreateOptions(base)._body.HostConfig.NetworkMode, 'bridge');
    const filtered = buildCreateOptions({ ...base, egress: true, network: 'testnet' })._body.HostConfig;
    assert.deepEqual(filtered.CapAdd, [...BASE_CAPABILITIES, ...EGRESS_CAPABILITIES].sort());
    assert.equal(filtered.NetworkMode, 'testnet');
    assert.deepEqual(buildCreateOptions({ ...base, sudo: true })._body.HostConfig.CapAdd, [...BASE_CAPABILITIES, ...SUDO_CAPABILITIES].sort());
  });

  test('[egress] keys', () => {
    const ok = ConfigFileSchema.parse({ egress: { mode: 'allowlist', allow: ['@registries', '*.example.com', '10.0.0.0/8', '[fd00::1]:8443'], repos: [{ name: 'a', mode: 'none' }] } });
    assert.equal(ok.egress.mode, 'allowlist');
    assert.equal(ok.egress.poll_interval, '5s');
    const bad = ConfigFileSchema.safeParse({ egress: { allow: ['http://x.example'] } });
    assert.ok(!bad.success);
    assert.match(bad.error.issues[0]!.message, /"http:\/\/x\.example"/);
    assert.ok(!ConfigFileSchema.safeParse({ egress: { mode: 'closed' } }).success);
    assert.ok(!ConfigFileSchema.safeParse({ egress: { repos: [{ name: 'a', extra: 1 }] } }).success);
    assert.ok(!ConfigFileSchema.safeParse({ core: { network: 'a b' } }).success);
  });
});

describe('the web UI', () => {
  test('the entry to copy for a blocked destination', () => {
    assert.equal(allowEntry({ host: 'evil.example', port: 443 }), 'evil.example');
    assert.equal(allowEntry({ host: 'evil.example', port: 0 }), 'evil.example');
    assert.equal(allowEntry({ host: '10.0.0.1', port: 8080 }), '10.0.0.1:8080');
    assert.equal(allowEntry({ host: 'fd00::1', port: 8080 }), '[fd00::1]:8080');
  });
  test("the composer's choice", () => {
    assert.deepEqual(egressField({ mode: '', text: 'x' }), {});
    assert.deepEqual(egressField({ mode: 'none', text: 'x' }), { egress: { mode: 'none' } });
    assert.deepEqual(egressField({ mode: 'allowlist', text: '@registries, a.example\n b.example:8080' }), { egress: { mode: 'allowlist', allow: ['@registries', 'a.example', 'b.example:8080'] } });
    assert.deepEqual(egressField({ mode: 'allowlist', text: ' ' }), { egress: { mode: 'allowlist' } });
    assert.match(egressProblem({ mode: 'allowlist', text: 'a.example http://b' }), /^"http:\/\/b" /);
    assert.equal(egressProblem({ mode: 'none', text: 'http://b' }), '');
  });
});
