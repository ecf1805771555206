// Which task changes make a push (TaskNews) and which addresses count as public push services.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Task } from '../../src/api/index.js';
import { endpointProblem, isPublicAddress, publicOnlyLookup, TaskNews } from '../../src/push/index.js';

const task = (over: Partial<Task>): Task => ({ id: 't1', title: 'x', state: 'running', forge: null, ...over }) as Task;

test('task news: asking, plan, finished after running, failed, CI failure once per commit; nothing for a task first seen', () => {
  const news = new TaskNews();
  assert.deepEqual(news.changed(task({ state: 'asking' })), [], 'first seen (adopted after a restart): no replay');
  assert.deepEqual(news.changed(task({ state: 'running' })), []);
  assert.deepEqual(news.changed(task({ state: 'asking' })), ['asking']);
  assert.deepEqual(news.changed(task({ state: 'asking', title: 'renamed' })), [], 'same state: no second push');
  assert.deepEqual(news.changed(task({ state: 'running' })), []);
  assert.deepEqual(news.changed(task({ state: 'has_plan' })), ['plan']);
  assert.deepEqual(news.changed(task({ state: 'waiting' })), [], 'from a plan to waiting is not a finished turn');
  assert.deepEqual(news.changed(task({ state: 'running' })), []);
  assert.deepEqual(news.changed(task({ state: 'waiting' })), ['finished']);
  const ci = (state: 'failure' | 'success' | 'pending', sha: string) => ({ forge: { ci: { state, sha } } as unknown as Task['forge'] });
  assert.deepEqual(news.changed(task({ state: 'waiting', ...ci('pending', 'a') })), []);
  assert.deepEqual(news.changed(task({ state: 'waiting', ...ci('failure', 'a') })), ['ci_failed']);
  assert.deepEqual(news.changed(task({ state: 'waiting', ...ci('failure', 'a') })), [], 'the same failed commit once');
  assert.deepEqual(news.changed(task({ state: 'waiting', ...ci('failure', 'b') })), ['ci_failed'], 'a new commit failing again');
  assert.deepEqual(news.changed(task({ state: 'failed' })), ['failed']);
  assert.deepEqual(news.changed(task({ id: 't2', state: 'provisioning' })), []);
  assert.deepEqual(news.changed(task({ id: 't2', state: 'crashed' })), ['failed']);
});

test('public addresses only: loopback, private, link-local, CGNAT, mapped loopback are not', () => {
  for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.0.1', '169.254.169.254', '100.64.1.1', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1', '0.0.0.0', 'x']) {
    assert.equal(isPublicAddress(a), false, a);
  }
  for (const a of ['142.250.74.206', '2a00:1450:4001:80b::200a']) assert.equal(isPublicAddress(a), true, a);
  const strict = { allowPrivate: false };
  assert.equal(endpointProblem('https://updates.push.services.mozilla.com/wpush/v2/abc', strict), null);
  assert.match(endpointProblem('http://updates.push.services.mozilla.com/x', strict)!, /https/);
  assert.match(endpointProblem('https://127.0.0.1/x', strict)!, /private or loopback/);
  assert.equal(endpointProblem('https://127.0.0.1/x', { allowPrivate: true }), null, 'tests only');
  assert.match(endpointProblem('http://127.0.0.1/x', { allowPrivate: true })!, /https/, 'https even in tests');
});

test('at connect time a name that resolves to loopback is not reached (DNS rebinding), in both lookup forms', async () => {
  const lookup = publicOnlyLookup();
  for (const all of [false, true]) {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', { all }, (e) => resolve(e)));
    assert.equal(err?.code, 'EPUSHPRIVATE', `all: ${all}`);
  }
});
