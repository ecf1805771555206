// Readiness from what an image holds and what is configured (pure), and the helpers behind it: the
// probe's output, image labels, npm tarball names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harnessInfo, HARNESSES, imageEventConcerns, type ImageAgents } from '../../src/agents/index.js';
import { labelledAgents, normalizeImageRef, parseImageEvent, parseProbe, tarballName } from '../../src/containers/index.js';

const held = (agents: ImageAgents['agents'], exists = true): ImageAgents => ({ imageId: exists ? 'sha256:1' : '', exists, agents });
const info = (name: 'claude' | 'codex' | 'gemini' | 'opencode' | 'fake', h: ImageAgents, env: Record<string, string> = {}, image = 'caic-agent:latest') =>
  harnessInfo(HARNESSES.get(name)!, image, h, env);

test('ready needs both the CLI in the image and one credential key with a value', () => {
  assert.equal(info('codex', held({ codex: '0.171.0' }), { OPENAI_API_KEY: 'sk-1' }).ready, true);
  const noKey = info('codex', held({ codex: '0.171.0' }), { OPENAI_API_KEY: '' });
  assert.deepEqual([noKey.installed, noKey.version, noKey.credentials, noKey.ready], [true, '0.171.0', false, false]);
  assert.equal(noKey.fix, 'set OPENAI_API_KEY in [harness.codex.env]');
  const missing = info('codex', held({}), { OPENAI_API_KEY: 'sk-1' });
  assert.deepEqual([missing.installed, missing.credentials, missing.ready, missing.reason], [false, true, false, 'Codex CLI is not installed in the image caic-agent:latest']);
  assert.equal(info('opencode', held({ opencode: '1.18.33' }), { OPENROUTER_API_KEY: 'or-1' }).ready, true, 'any provider key will do');
  assert.equal(info('fake', held({}, false)).ready, true, 'the fake agent needs nothing');
});

test('the fix rebuilds with every agent the image should keep, and names a custom image', () => {
  assert.equal(info('codex', held({ claude: '2.1.332', opencode: '1.18.33' }), { OPENAI_API_KEY: 'k' }).fix, 'caic image build --claude-code --codex --opencode');
  assert.equal(info('gemini', held({}, false), { GEMINI_API_KEY: 'k' }, 'mine:v2').fix, 'caic image build --tag mine:v2 --gemini');
  assert.equal(info('gemini', held({}, false), { GEMINI_API_KEY: 'k' }, 'mine:v2').reason, 'the image mine:v2 does not exist');
  const both = info('claude', held({}));
  assert.match(both.reason, /^Claude Code is not installed in the image caic-agent:latest; no credentials for Claude Code/);
  assert.match(both.fix, /^caic image build --claude-code; then set ANTHROPIC_API_KEY/);
  const noDocker = info('claude', { imageId: null, exists: false, agents: {} }, { ANTHROPIC_API_KEY: 'k' });
  assert.deepEqual([noDocker.ready, noDocker.fix], [false, 'start Docker']);
});

test('labels and probe output: versions as the CLIs print them, nothing asked for is invented', () => {
  assert.deepEqual(labelledAgents({ 'caic.claude-code': '2.1.332', 'caic.claude-code.base': 'sha256:x', 'caic.codex': '0.171.0', other: '1' }), { claude: '2.1.332', codex: '0.171.0' });
  assert.deepEqual(labelledAgents(null), {});
  const out = 'claude\t2.1.332 (Claude Code)\ncodex\tcodex-cli 0.171.0\ngemini\t\nopencode\t1.18.33\nevil\t1.0.0\n';
  assert.deepEqual(parseProbe(out, ['claude', 'codex', 'gemini']), { claude: '2.1.332', codex: '0.171.0', gemini: '' });
});

test('npm pack file names, scoped and aliased platform packages', () => {
  assert.equal(tarballName('@openai/codex@0.171.0-linux-x64'), 'openai-codex-0.171.0-linux-x64.tgz');
  assert.equal(tarballName('opencode-linux-x64-baseline@1.18.33'), 'opencode-linux-x64-baseline-1.18.33.tgz');
  assert.equal(tarballName('@anthropic-ai/claude-code-linux-x64@2.1.332'), 'anthropic-ai-claude-code-linux-x64-2.1.332.tgz');
});

test('only image events about the configured image empty the readiness cache', () => {
  const ev = (line: object) => parseImageEvent(JSON.stringify(line))!;
  const held = 'sha256:aaaa';
  const tag = (name: string, id = 'sha256:bbbb') => ev({ Type: 'image', Action: 'tag', Actor: { ID: id, Attributes: { name } } });
  // A new build of the configured image, under any spelling of its reference.
  for (const name of ['caic-agent:latest', 'caic-agent', 'docker.io/library/caic-agent:latest']) assert.equal(imageEventConcerns(tag(name), 'caic-agent:latest', held), true, name);
  assert.equal(imageEventConcerns(tag('caic-agent:v2'), 'caic-agent:v2', null), true, 'also before the image exists');
  // The held image untagged or removed (those events name the id, not the tag).
  assert.equal(imageEventConcerns(ev({ Action: 'untag', Actor: { ID: held, Attributes: { name: held } } }), 'caic-agent:latest', held), true);
  assert.equal(imageEventConcerns(ev({ Action: 'delete', Actor: { ID: held, Attributes: {} } }), 'caic-agent:latest', held), true);
  // Repository images of tasks and anyone's other images change nothing.
  assert.equal(imageEventConcerns(tag('caic-repo:0123abcd'), 'caic-agent:latest', held), false);
  assert.equal(imageEventConcerns(tag('caic-agent:other'), 'caic-agent:latest', held), false);
  assert.equal(imageEventConcerns(tag('registry:5000/caic-agent'), 'caic-agent:latest', held), false);
  assert.equal(imageEventConcerns(ev({ Action: 'delete', Actor: { ID: 'sha256:cccc', Attributes: {} } }), 'caic-agent:latest', held), false);
  // What cannot be read is not ignored.
  assert.equal(parseImageEvent('not json'), null);
  assert.equal(imageEventConcerns(ev({ Action: 'load' }), 'caic-agent:latest', held), true);
  assert.equal(normalizeImageRef('registry:5000/team/img'), 'registry:5000/team/img:latest');
  assert.equal(normalizeImageRef('img@sha256:dd'), 'img@sha256:dd');
});
