// Remote URL → forge repository: every form git accepts for GitHub, GHE, gitlab.com and self-hosted GitLab; hostile input gives null.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseRemote, type ForgeHosts } from '../../src/forge/index.js';
import { RepoRegistry } from '../../src/tasks/index.js';
import { tempDir } from '../helpers/tmp.js';

const defaults: ForgeHosts = { github: 'https://github.com', gitlab: 'https://gitlab.com' };
const selfHosted: ForgeHosts = { github: 'https://ghe.corp.example', gitlab: 'https://git.example.org:8443' };

describe('parseRemote', () => {
  const cases: [string, ForgeHosts, [string, string, string, string] | null][] = [
    ['https://github.com/octo/hello.git', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['https://github.com/octo/hello', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['https://github.com/octo/hello/', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['https://GitHub.com/Octo/Hello.GIT', defaults, ['github', 'https://github.com', 'Octo', 'Hello']],
    ['https://x-access-token:ghp_secret@github.com/octo/hello.git', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['git@github.com:octo/hello.git', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['github.com:octo/hello', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['ssh://git@github.com/octo/hello.git', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['ssh://git@ssh.github.com:443/octo/hello.git', defaults, ['github', 'https://github.com', 'octo', 'hello']],
    ['git+ssh://git@github.com/octo/.github.git', defaults, ['github', 'https://github.com', 'octo', '.github']],
    ['https://ghe.corp.example/team/svc.git', selfHosted, ['github', 'https://ghe.corp.example', 'team', 'svc']],
    ['git@ghe.corp.example:team/svc.git', selfHosted, ['github', 'https://ghe.corp.example', 'team', 'svc']],
    ['https://gitlab.com/group/project.git', defaults, ['gitlab', 'https://gitlab.com', 'group', 'project']],
    ['https://gitlab.com/group/sub/deeper/project.git', defaults, ['gitlab', 'https://gitlab.com', 'group/sub/deeper', 'project']],
    ['git@gitlab.com:group/sub/project.git', defaults, ['gitlab', 'https://gitlab.com', 'group/sub', 'project']],
    ['ssh://git@gitlab.com:2222/group/project.git', defaults, ['gitlab', 'https://gitlab.com', 'group', 'project']],
    ['https://git.example.org:8443/platform/tools/cli.git', selfHosted, ['gitlab', 'https://git.example.org:8443', 'platform/tools', 'cli']],
    ['git@git.example.org:platform/cli.git', selfHosted, ['gitlab', 'https://git.example.org:8443', 'platform', 'cli']],
    // Not a configured forge, or not owner/repo.
    ['https://git.example.org/platform/cli.git', selfHosted, null],
    ['https://github.com/octo/hello.git', selfHosted, null],
    ['https://gitlab.com/group/project.git', selfHosted, null],
    ['https://bitbucket.org/a/b.git', defaults, null],
    ['https://github.com/octo', defaults, null],
    ['https://github.com/octo/hello/tree/main', defaults, null],
    ['https://gitlab.com/project.git', defaults, null],
    ['https://gitlab.com/group/project/-/tree/main', defaults, null],
    ['/home/me/src/repo', defaults, null],
    ['file:///srv/git/octo/hello.git', defaults, null],
    ['../octo/hello.git', defaults, null],
    ['', defaults, null],
    // Hostile.
    ['https://github.com/octo/../etc/passwd', defaults, null],
    ['https://github.com/octo/%2e%2e', defaults, null],
    ['https://github.com/octo/hello.git?x=1', defaults, null],
    ['https://github.com/octo/hello.git#frag', defaults, null],
    ['https://github.com/oc to/hello', defaults, null],
    ['https://github.com/octo/hel\nlo', defaults, null],
    ['https://github.com/octo/hel\0lo', defaults, null],
    ['https://github.com/octo/$(rm -rf ~)', defaults, null],
    ['https://github.com/octo/hello;ls', defaults, null],
    ['https://github.com.evil.example/octo/hello', defaults, null],
    ['https://evil.example/github.com/octo/hello', defaults, null],
    ['https://github.com@evil.example/octo/hello', defaults, null],
    ['git@evil.example:github.com/octo/hello', defaults, null],
    ['ssh://git@github.com/~octo/hello.git', defaults, null],
    ['git@github.com:~/hello.git', defaults, null],
    ['javascript:alert(1)', defaults, null],
    ['https://', defaults, null],
    [`https://github.com/${'a'.repeat(3000)}/b`, defaults, null],
    [`https://gitlab.com/${'g/'.repeat(40)}p`, defaults, null],
  ];
  for (const [url, hosts, want] of cases) {
    test(JSON.stringify(url).slice(0, 80), () => {
      const got = parseRemote(url, hosts);
      assert.deepEqual(got && [got.kind, got.baseUrl, got.owner, got.repo], want);
    });
  }

  test('never throws, whatever the input', () => {
    const hostile = ['\u0000', '::::', 'git@:', '@:/', 'ssh://[::1', 'https://[zz]/a/b', '%', 'a:b:c:d', String.fromCharCode(0xd800)];
    for (const h of hostile) assert.doesNotThrow(() => parseRemote(h, defaults));
    assert.equal(parseRemote('https://github.com/a/b', { github: 'not a url', gitlab: '' }), null);
  });
});

describe('repository forge classification', () => {
  test('the registry classifies remotes with the injected forge parser (GHE, self-hosted GitLab), not by a name guess', async () => {
    await using dir = await tempDir();
    const make = async (name: string, remote: string) => {
      const path = join(dir.path, name);
      await mkdir(path);
      execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: path });
      execFileSync('git', ['remote', 'add', 'origin', remote], { cwd: path });
    };
    await make('ghe', 'git@ghe.corp.example:team/svc.git');
    await make('gl', 'https://git.example.org:8443/platform/tools/cli.git');
    await make('fake', 'https://gitlab.evil.example/x/y.git');
    const repos = new RepoRegistry(dir.path, { classifyForge: (url) => parseRemote(url, selfHosted)?.kind ?? '' });
    await repos.scan();
    assert.deepEqual(
      repos.list().map((r) => [r.name, r.forge]),
      [['fake', ''], ['ghe', 'github'], ['gl', 'gitlab']],
    );
  });
});
