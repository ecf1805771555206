// Token order for a task (the owner's OAuth token → the PAT → `gh`/`glab` on the host) and for the bot
// (the GitHub App installation first), with stub `gh`/`glab` scripts on PATH and the forge stand-in.
import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { createForgeClients, type ForgeRepo } from '../../src/forge/index.js';
import { standinToml, startForgeStandin, type ForgeStandin } from '../helpers/forge-standin.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';

const OAUTH = 'gho_ownerOAuthToken000000000001';
const PAT = 'ghp_configuredPat00000000000002';
const GH = 'gho_fromGhCliOnHost0000000000003';
const GLAB = 'glpat-fromGlabOnHost000000004';

describe('token order', () => {
  let forge: ForgeStandin;
  let bin: TempDir;
  let empty: TempDir;
  const path = process.env.PATH;
  let github: ForgeRepo;
  let gitlab: ForgeRepo;

  /** The daemon's config for the stand-in, as config.toml would give it. */
  const config = (over: { githubPat?: string; gitlabPat?: string; app?: boolean } = {}) => {
    const dir = `${bin.path}/cfg-${++configs}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/config.toml`, standinToml(forge, over));
    return loadConfig({ configDir: dir, cacheDir: `${dir}/cache`, env: {} });
  };
  let configs = 0;

  before(async () => {
    forge = await startForgeStandin();
    await forge.createRepo('acme', 'widget');
    await forge.createRepo('team/sub', 'svc');
    for (const [t, who] of [[OAUTH, 'owner'], [PAT, 'patuser'], [GH, 'ghuser'], [GLAB, 'glabuser']] as const) forge.addToken(t, who);
    github = { kind: 'github', baseUrl: forge.url, owner: 'acme', repo: 'widget' };
    gitlab = { kind: 'gitlab', baseUrl: forge.url, owner: 'team/sub', repo: 'svc' };
    bin = await tempDir('caic-forge-bin-');
    empty = await tempDir('caic-forge-nobin-');
    // Stub CLIs: print a token for the stand-in's host only, and record how they were called.
    await bin.file('gh', `#!/bin/sh\necho "$@" >> "${bin.path}/gh.args"\n[ "$1 $2 $3 $4" = "auth token --hostname 127.0.0.1" ] && echo ${GH} && exit 0\nexit 1\n`);
    await bin.file('glab', `#!/bin/sh\necho "$@" >> "${bin.path}/glab.args"\n[ "$1 $2 $3 $4 $5" = "config get token --host 127.0.0.1" ] && echo ${GLAB} && exit 0\nexit 1\n`);
    await chmod(`${bin.path}/gh`, 0o755);
    await chmod(`${bin.path}/glab`, 0o755);
  });
  beforeEach(() => {
    process.env.PATH = `${bin.path}:${path}`;
  });
  after(async () => {
    process.env.PATH = path;
    await forge.close();
    await bin[Symbol.asyncDispose]();
    await empty[Symbol.asyncDispose]();
  });

  test("the owner's OAuth token comes first, when they signed in with that forge", async () => {
    const clients = createForgeClients(config({ githubPat: PAT }));
    const c = await clients.clientFor(github, { username: 'owner', provider: 'github', accessToken: OAUTH });
    assert.equal(c?.token.source, 'oauth');
    assert.equal(c?.token.masked, `****${OAUTH.slice(-4)}`);
    await c.branchHead(github, 'main');
    assert.equal(forge.requests.at(-1)?.token, OAUTH, 'the API call carried that token');
  });

  test('a GitLab login is no credential for GitHub: the PAT is used', async () => {
    const clients = createForgeClients(config({ githubPat: PAT }));
    const c = await clients.clientFor(github, { username: 'owner', provider: 'gitlab', accessToken: OAUTH });
    assert.equal(c?.token.source, 'pat');
    assert.equal(c?.token.token, PAT);
  });

  test('without login or PAT: `gh auth token --hostname <host>`', async () => {
    const clients = createForgeClients(config());
    const c = await clients.clientFor(github, null);
    assert.equal(c?.token.source, 'gh');
    assert.equal(c?.token.token, GH);
    assert.match(await readFile(`${bin.path}/gh.args`, 'utf8'), /^auth token --hostname 127\.0\.0\.1$/m);
    await c.branchHead(github, 'main');
    assert.equal(forge.requests.at(-1)?.token, GH);
  });

  test('GitLab: `glab config get token --host <host>`, then the API with it', async () => {
    const clients = createForgeClients(config());
    const c = await clients.clientFor(gitlab, null);
    assert.equal(c?.token.source, 'glab');
    await c.branchHead(gitlab, 'main');
    assert.equal(forge.requests.at(-1)?.token, GLAB);
    const withPat = await createForgeClients(config({ gitlabPat: PAT })).clientFor(gitlab, null);
    assert.equal(withPat?.token.source, 'pat');
  });

  test('no tool on PATH and no other credential: no client', async () => {
    process.env.PATH = empty.path;
    const clients = createForgeClients(config());
    assert.equal(await clients.clientFor(github, null), null);
    assert.equal(await clients.clientFor(gitlab, null), null);
  });

  test('the bot acts as the App installation of the owner, before the PAT; a task does not', async () => {
    const inst = forge.app.addInstallation('acme');
    const clients = createForgeClients(config({ githubPat: PAT, app: true }));
    const bot = await clients.clientFor(github, null, 'bot');
    assert.equal(bot?.token.source, 'app');
    assert.match(bot.token.token, /^ghs_/);
    await bot.comment(github, forge.addIssue('acme/widget', { title: 'x' }), 'done');
    assert.equal(forge.comments('acme/widget', 1).at(-1)?.author, 'caic[bot]');
    assert.equal((await clients.clientFor(github, null))?.token.source, 'pat');
    // Not installed on that owner: the PAT.
    const other = await clients.clientFor({ ...github, owner: 'elsewhere' }, null, 'bot');
    assert.equal(other?.token.source, 'pat');
    assert.ok(inst > 0);
  });

  test('one client per token, reused', async () => {
    const clients = createForgeClients(config({ githubPat: PAT }));
    const a = await clients.clientFor(github, null);
    const b = await clients.clientFor({ ...github, repo: 'other' }, null);
    assert.equal(a, b);
  });
});
