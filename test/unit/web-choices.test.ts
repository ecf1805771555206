// The composer's choices: the agent it starts with (ready, not the one that just failed, the one
// remembered for the repository) and the preferences applied at once after a task starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HarnessInfo, Preferences, Task } from '../../src/api/index.js';
import { failedAgents, pickAgent, rememberTask } from '../../web/src/lib/choices.js';

const agent = (name: HarnessInfo['name'], ready: boolean, models = ['m1', 'm2']): HarnessInfo => ({
  name,
  models,
  defaultModel: models[0]!,
  supportsImages: false,
  supportsCompact: false,
  supportsInterrupt: false,
  contextWindow: 1000,
  installed: ready,
  version: '',
  credentials: true,
  ready,
  reason: ready ? '' : 'not installed in caic-agent:latest',
  fix: ready ? '' : 'caic image build',
});
const prefs = (over: Partial<Preferences> = {}): Preferences => ({ repositories: [], harness: '', models: {}, settings: {}, ...over });
const task = (harness: Task['harness'], state: Task['state'], createdAt: string) => ({ harness, state, createdAt }) as Task;

test('the composer starts with an agent that can run: Claude Code only when it is ready', () => {
  const all = [agent('claude', false), agent('codex', true), agent('fake', true)];
  assert.equal(pickAgent(all, prefs(), 'proj')?.harness, 'codex');
  assert.equal(pickAgent([agent('claude', true), ...all.slice(1)], prefs(), 'proj')?.harness, 'claude');
  assert.equal(pickAgent([], prefs(), 'proj'), null);
  // Nothing ready: the first choice anyway (the composer then says why and how to fix it).
  assert.equal(pickAgent([agent('claude', false), agent('codex', false)], prefs(), 'proj')?.harness, 'claude');
});

test('the remembered agent and model, per repository first, unless it cannot run or just failed', () => {
  const all = [agent('claude', true), agent('codex', true), agent('gemini', true)];
  const p = prefs({ harness: 'gemini', models: { gemini: 'm2', codex: 'm1' }, repositories: [{ name: 'proj', baseBranch: 'main', harness: 'codex', model: 'm2', lastUsed: '2026-01-01T00:00:00Z' }] });
  assert.deepEqual(pickAgent(all, p, 'proj'), { harness: 'codex', model: 'm2' });
  assert.deepEqual(pickAgent(all, p, 'other'), { harness: 'gemini', model: 'm2' });
  assert.deepEqual(pickAgent(all, p, 'proj', new Set(['codex'])), { harness: 'gemini', model: 'm2' }, 'the last used agent failed: the next choice');
  assert.deepEqual(pickAgent([agent('claude', true), agent('codex', false), agent('gemini', true)], p, 'proj'), { harness: 'gemini', model: 'm2' });
  assert.deepEqual(pickAgent(all, prefs({ harness: 'codex', models: { codex: 'gone' } }), 'x'), { harness: 'codex', model: '' }, 'a model no longer offered: the default');
});

test('an agent counts as failed when its newest task failed', () => {
  const failed = failedAgents([task('codex', 'failed', '2026-01-02'), task('codex', 'waiting', '2026-01-01'), task('claude', 'failed', '2026-01-01'), task('claude', 'running', '2026-01-03')]);
  assert.deepEqual([...failed], ['codex']);
});

test('a started task is remembered at once, as the server records it', () => {
  const before = prefs({ harness: 'claude', models: { claude: 'm1' }, repositories: [{ name: 'a', baseBranch: 'main', harness: 'claude', model: 'm1', lastUsed: '2026-01-01T00:00:00Z' }] });
  const t: Pick<Task, 'repos' | 'harness' | 'model' | 'createdAt'> = { repos: [{ name: 'b', baseBranch: 'dev', branch: '' }], harness: 'codex', model: 'm2', createdAt: '2026-02-01T00:00:00Z' };
  const after = rememberTask(before, t);
  assert.equal(after.harness, 'codex');
  assert.deepEqual(after.models, { claude: 'm1', codex: 'm2' });
  assert.deepEqual(after.repositories.map((r) => [r.name, r.harness, r.model, r.baseBranch]), [['b', 'codex', 'm2', 'dev'], ['a', 'claude', 'm1', 'main']]);
  assert.deepEqual(pickAgent([agent('claude', true), agent('codex', true)], after, 'b'), { harness: 'codex', model: 'm2' });
  assert.equal(rememberTask(before, { ...t, repos: [] }), before, 'without a repository the server records nothing');
  assert.equal(rememberTask(after, t).repositories.length, 2, 'the same repository moves to the front, once');
});
