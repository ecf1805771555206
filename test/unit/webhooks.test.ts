// Webhook payloads → ForgeHooks, the delivery log (every real GitHub example of the events caic reads), GitLab hooks, @caic mentions, the completion comment.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { botTaskDone, BOT_MARKER, completionComment, mentionsCaic } from '../../src/forge/index.js';
import { DELIVERIES_FILE_NAME, DeliveryLog, GITHUB_EVENTS, githubHook, gitlabHook } from '../../src/http/webhooks/index.js';
import { createLogger } from '../../src/log/index.js';
import { LogCapture } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/tmp.js';
import { githubExample } from '../helpers/webhooks.js';

const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as { name: string; examples: Record<string, unknown>[] }[];

test('every real example payload of the events caic reads is understood (no 400 for a genuine delivery)', () => {
  let seen = 0;
  for (const def of examples) {
    if (!GITHUB_EVENTS.has(def.name)) continue;
    for (const payload of def.examples) {
      seen++;
      assert.doesNotThrow(() => githubHook(def.name, payload), `${def.name}.${String(payload.action)}`);
    }
  }
  assert.ok(seen > 90, `examples checked: ${seen}`);
});

test('GitHub events map to hooks: issues labelled caic, @caic comments, pull requests, CI, installations', () => {
  const opened = githubExample('issues', 'opened');
  assert.equal(githubHook('issues', opened), null, 'an issue without the caic label is nothing');
  (opened.issue as { labels: { name: string }[] }).labels = [{ name: 'caic' }];
  const issue = githubHook('issues', opened);
  assert.equal(issue?.type, 'issue');
  const labeled = githubExample('issues', 'labeled');
  (labeled.label as { name: string }).name = 'caic';
  assert.equal(githubHook('issues', labeled)?.type, 'issue');
  (labeled.label as { name: string }).name = 'bug';
  assert.equal(githubHook('issues', labeled), null);

  const comment = githubExample('issue_comment', 'created');
  assert.equal(githubHook('issue_comment', comment), null, 'no mention');
  (comment.comment as { body: string }).body = 'hey @caic please fix this';
  const hook = githubHook('issue_comment', comment);
  assert.ok(hook?.type === 'comment');
  assert.equal(hook.comment, 'hey @caic please fix this');
  assert.equal(hook.repo.kind, 'github');
  const edited = githubExample('issue_comment', 'edited');
  (edited.comment as { body: string }).body = '@caic';
  assert.equal(githubHook('issue_comment', edited), null, 'only new comments');

  const pr = githubHook('pull_request', githubExample('pull_request', 'opened'));
  assert.ok(pr?.type === 'pullRequest');
  assert.equal(pr.action, 'opened');
  assert.match(pr.pr.headSha, /^[0-9a-f]{40}$/);
  assert.equal(githubHook('pull_request', githubExample('pull_request', 'labeled')), null);

  assert.equal(githubHook('check_run', githubExample('check_run', 'completed'))?.type, 'ci');
  assert.equal(githubHook('check_run', githubExample('check_run', 'created')), null);
  assert.equal(githubHook('check_suite', githubExample('check_suite', 'completed'))?.type, 'ci');
  assert.equal(githubHook('workflow_run', githubExample('workflow_run', 'completed'))?.type, 'ci');
  const status = githubExample('status', undefined, (p) => p.state !== 'pending');
  assert.equal(githubHook('status', status)?.type, 'ci');
  const inst = githubHook('installation', githubExample('installation', 'created'));
  assert.ok(inst?.type === 'installation');
  assert.ok(inst.installationId > 0);
  assert.equal(githubHook('ping', githubExample('ping')), null);
});

test('@caic mentions: a word of its own, not a longer name, an address or a path', () => {
  for (const yes of ['@caic', '@caic fix it', 'hey @caic.', '(@caic)', 'x\n@CAIC please', '@caic, go']) assert.equal(mentionsCaic(yes), true, yes);
  for (const no of ['@caic-bot', 'me@caic.dev', 'caic', '@caicx', 'github.com/@caic', '`x`@caic_y']) assert.equal(mentionsCaic(no), false, no);
});

test('GitLab hooks: terminal pipelines, notes with @caic, issues labelled caic, merge requests', () => {
  const project = { path_with_namespace: 'group/sub/project' };
  const sha = 'bcbb5ec396a2c0f828686f14fac9b80b780504f2';
  const ci = gitlabHook('Pipeline Hook', { object_attributes: { status: 'failed', sha }, project });
  assert.deepEqual(ci, { type: 'ci', repo: { kind: 'gitlab', owner: 'group/sub', repo: 'project' }, sha });
  assert.equal(gitlabHook('Pipeline Hook', { object_attributes: { status: 'running', sha }, project }), null);
  const note = gitlabHook('Note Hook', {
    object_attributes: { note: '@caic look', noteable_type: 'Issue', url: 'https://gl/x#note_1' },
    user: { username: 'alice' },
    project,
    issue: { iid: 7, title: 'T', description: 'D', url: 'https://gl/x' },
  });
  assert.ok(note?.type === 'comment');
  assert.equal(note.number, 7);
  assert.equal(note.onPullRequest, false);
  const labelled = gitlabHook('Issue Hook', {
    object_attributes: { iid: 3, title: 'T', description: null, url: 'u', action: 'update' },
    changes: { labels: { previous: [], current: [{ title: 'caic' }] } },
    user: { username: 'alice' },
    project,
  });
  assert.equal(labelled?.type, 'issue');
  const relabel = gitlabHook('Issue Hook', {
    object_attributes: { iid: 3, title: 'T', url: 'u', action: 'update' },
    changes: { labels: { previous: [{ title: 'caic' }], current: [{ title: 'caic' }, { title: 'x' }] } },
    user: { username: 'alice' },
    project,
  });
  assert.equal(relabel, null, 'caic was already there');
  const mr = gitlabHook('Merge Request Hook', {
    object_attributes: { iid: 5, title: 'T', url: 'u', state: 'opened', action: 'update', oldrev: sha, source_branch: 'f', target_branch: 'main', source_project_id: 1, target_project_id: 1, last_commit: { id: sha } },
    user: { username: 'alice' },
    project,
  });
  assert.ok(mr?.type === 'pullRequest');
  assert.equal(mr.action, 'synchronize');
  assert.throws(() => gitlabHook('Pipeline Hook', { object_attributes: {} }), /not a valid Pipeline Hook/);
});

test('the completion comment: state, the result fenced (no mentions, no markup), the PR link, the bot marker', () => {
  const body = completionComment(
    { id: 't1', state: 'waiting', result: 'Done. ``` @someone <img src=x>', error: '', title: 'Fix it', forge: { kind: 'github', owner: 'o', repo: 'r', number: 4, url: 'https://github.com/o/r/pull/4', state: 'open', ci: null, fixAttempts: 0 } },
    'https://caic.example.com',
  );
  assert.ok(body.startsWith(BOT_MARKER));
  assert.match(body, /caic task completed\*\* \(state: waiting\)/);
  assert.match(body, /````text\nDone\. ``` @someone <img src=x>\n````/);
  assert.match(body, /Pull request: https:\/\/github.com\/o\/r\/pull\/4/);
  assert.match(body, /Task: https:\/\/caic.example.com\/task\/@t1/);
  const long = completionComment({ id: 't', state: 'failed', result: 'x'.repeat(10_000), error: 'boom', title: 't', forge: null }, '');
  assert.ok(long.length < 6_000);
  assert.match(long, /Error: /);
  assert.equal(botTaskDone({ state: 'waiting', result: '' }), false);
  assert.equal(botTaskDone({ state: 'waiting', result: 'ok' }), true);
  assert.equal(botTaskDone({ state: 'running', result: 'ok' }), false);
  assert.equal(botTaskDone({ state: 'failed', result: '' }), true);
});

test('the delivery log: bounded (oldest forgotten), persisted 0600, a damaged file starts empty', async () => {
  await using dir = await tempDir();
  const logs = new LogCapture();
  const { logger } = createLogger({ destination: logs, level: 'debug' });
  const log = await DeliveryLog.open(dir.path, logger, 3);
  for (const id of ['a', 'b', 'c', 'd']) assert.equal(log.claim(id), true);
  assert.equal(log.claim('d'), false);
  assert.equal(log.claim('a'), true, 'the oldest was forgotten');
  log.release('a');
  await log.close();
  const file = join(dir.path, DELIVERIES_FILE_NAME);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), ['c', 'd']);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const again = await DeliveryLog.open(dir.path, logger, 3);
  assert.equal(again.claim('c'), false);
  assert.equal(again.claim('b'), true);
  await again.close();
  await writeFile(file, '{"not":"a list"}');
  const damaged = await DeliveryLog.open(dir.path, logger, 3);
  assert.equal(damaged.claim('c'), true);
  assert.equal(logs.find('webhook delivery log unreadable; starting empty').length, 1);
  await damaged.close();
});
