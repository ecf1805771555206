// /webhooks/github and /webhooks/gitlab against the real daemon: secrets, signatures before parsing, body limits, replays (also across a restart), unknown events.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sign } from '@octokit/webhooks-methods';
import { DELIVERIES_FILE_NAME } from '../../src/http/webhooks/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { RawConnection, rawRequest } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { githubExample, sendGithub, sendGitlab } from '../helpers/webhooks.js';

const SECRET = 'gh-webhook-secret-0123456789';
const GL_SECRET = 'gl-webhook-secret-0123456789';
const TOML = `[server]\nallow_origins = ["local"]\n[github.app]\nwebhook_secret = "${SECRET}"\n[gitlab]\nwebhook_secret = "${GL_SECRET}"\n`;
type Envelope = { error: { code: string; message: string } };

/** Nothing a delivery may create exists: no task, no pending bot task, nothing handled. */
function assertNothingCreated(d: TestDaemon): void {
  assert.deepEqual(d.daemon.tasks.list(null), []);
  assert.equal(d.logs.find('bot: task started').length, 0);
  assert.equal(d.logs.find('webhook ignored: repository not managed by caic').length, 0, 'no delivery reached the forge side');
}

describe('webhook endpoints', () => {
  test('without their secrets both endpoints answer 404', async () => {
    await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\n');
    const gh = await sendGithub(d.url, SECRET, { event: 'ping', payload: githubExample('ping') });
    assert.equal(gh.status, 404);
    assert.equal(gh.json<Envelope>().error.code, 'NOT_FOUND');
    const gl = await sendGitlab(d.url, GL_SECRET, 'Pipeline Hook', {});
    assert.equal(gl.status, 404);
  });

  test('GitHub: the signature is checked over the raw bytes before any parsing', async () => {
    await using d = await startTestDaemon(TOML);
    const ping = await sendGithub(d.url, SECRET, { event: 'ping', payload: githubExample('ping') });
    assert.equal(ping.status, 204);

    const payload = githubExample('issues', 'opened');
    const missing = await sendGithub(d.url, SECRET, { event: 'issues', payload, signature: null });
    assert.equal(missing.status, 401);
    assert.match(missing.json<Envelope>().error.message, /missing X-Hub-Signature-256/);
    const wrong = await sendGithub(d.url, SECRET, { event: 'issues', payload, signature: await sign('another-secret', JSON.stringify(payload)) });
    assert.equal(wrong.status, 401);
    // Signed over other bytes than those sent (one space added): refused.
    const body = JSON.stringify(payload);
    const moved = await sendGithub(d.url, SECRET, { event: 'issues', payload, body: `${body} `, signature: await sign(SECRET, body) });
    assert.equal(moved.status, 401);
    // Not JSON and not signed: the signature answers first (401, not 400), so nothing read it.
    const garbage = await sendGithub(d.url, SECRET, { event: 'issues', payload: null, body: '{"action":', signature: 'sha256=00' });
    assert.equal(garbage.status, 401);
    // Signed but not JSON: 400, and nothing acted on it.
    const malformed = await sendGithub(d.url, SECRET, { event: 'issues', payload: null, body: '{"action":' });
    assert.equal(malformed.status, 400);
    assert.match(malformed.json<Envelope>().error.message, /not valid JSON/);
    // Signed JSON that is not what its event says: 400.
    const shape = await sendGithub(d.url, SECRET, { event: 'issues', payload: { action: 'opened' } });
    assert.equal(shape.status, 400);
    assert.match(shape.json<Envelope>().error.message, /not a valid issues event/);
    assertNothingCreated(d);
  });

  test('GitHub: an event caic does not read is acknowledged with 204 and nothing more', async () => {
    await using d = await startTestDaemon(TOML);
    const star = await sendGithub(d.url, SECRET, { event: 'star', payload: githubExample('star') });
    assert.equal(star.status, 204);
    const noEvent = await sendGithub(d.url, SECRET, { event: '', payload: githubExample('ping') });
    assert.equal(noEvent.status, 204);
    assertNothingCreated(d);
  });

  test('GitHub: a body over 25 MB is refused, by its declared length or while it streams, without reading it all', async () => {
    await using d = await startTestDaemon(TOML);
    // A large genuine delivery (GitHub sends up to 25 MB) is taken, above the API's own body limit.
    const big = { ...githubExample('ping'), padding: 'x'.repeat(3 * 1024 * 1024) };
    assert.equal((await sendGithub(d.url, SECRET, { event: 'ping', payload: big })).status, 204);

    const head = (extra: string) =>
      `POST /webhooks/github HTTP/1.1\r\nHost: ${new URL(d.url).host}\r\ncontent-type: application/json\r\nx-github-event: issues\r\nx-hub-signature-256: sha256=00\r\n${extra}\r\n`;
    const declared = await rawRequest(d.url, `${head(`content-length: ${25 * 1024 * 1024 + 1}\r\n`)}{`);
    assert.equal(declared.status, 413);
    assert.match(declared.body, /larger than 26214400 bytes/);
    assert.ok(declared.closedAfter, 'the connection is closed instead of reading the rest');

    // Chunked, no length: the server answers once the limit is passed; the sender stops long before 100 MB.
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const conn = await RawConnection.open(d.url);
    conn.write(head('transfer-encoding: chunked\r\n'));
    const answer = conn.answer(30_000);
    let answered = false;
    void answer.finally(() => (answered = true)).catch(() => undefined);
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (!answered && !conn.closed && sent < 100 * chunk.length) {
          sent += chunk.length;
          const ok = conn.socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
          if (!ok) return void conn.socket.once('drain', pump);
        }
        resolve();
      };
      conn.socket.on('close', resolve);
      pump();
    });
    const a = await answer;
    assert.equal(a.status, 413, a.body);
    conn.close();
    assert.ok(sent < 100 * chunk.length, `the sender was stopped before sending everything (${sent} bytes sent)`);
    assertNothingCreated(d);
  });

  test('GitHub: a replayed delivery is acknowledged and ignored, also after a restart; the delivery log is 0600', async () => {
    await using dir = await tempDir();
    const payload = githubExample('check_run', 'completed');
    const delivery = randomUUID();
    {
      await using d = await startTestDaemon(TOML, { dir });
      const first = await sendGithub(d.url, SECRET, { event: 'check_run', payload, delivery });
      assert.equal(first.status, 204);
      assert.equal(d.logs.find('webhook ignored: repository not managed by caic').length, 1, 'the first delivery was handled');
      const again = await sendGithub(d.url, SECRET, { event: 'check_run', payload, delivery });
      assert.equal(again.status, 204);
      assert.equal(d.logs.find('webhook delivery seen before; ignored').length, 1);
      assert.equal(d.logs.find('webhook ignored: repository not managed by caic').length, 1, 'the replay was not handled');
    }
    {
      await using d = await startTestDaemon(TOML, { dir });
      const file = join(d.cacheDir, DELIVERIES_FILE_NAME);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const replay = await sendGithub(d.url, SECRET, { event: 'check_run', payload, delivery });
      assert.equal(replay.status, 204);
      assert.equal(d.logs.find('webhook delivery seen before; ignored').length, 1, 'remembered across the restart');
      assert.equal(d.logs.find('webhook ignored: repository not managed by caic').length, 0);
      const fresh = await sendGithub(d.url, SECRET, { event: 'check_run', payload });
      assert.equal(fresh.status, 204);
      await until(() => d.logs.find('webhook ignored: repository not managed by caic').length === 1, 'a new delivery is handled');
    }
  });

  test('GitHub: the IP gate still applies to the webhook route', async () => {
    await using d = await startTestDaemon(`[server]\nallow_origins = ["203.0.113.0/24"]\n[github.app]\nwebhook_secret = "${SECRET}"\n`);
    const r = await sendGithub(d.url, SECRET, { event: 'ping', payload: githubExample('ping') });
    assert.equal(r.status, 403);
  });

  test('GitLab: the token is required and must match; unknown events get 204; replays are ignored', async () => {
    await using d = await startTestDaemon(TOML);
    const pipeline = {
      object_kind: 'pipeline',
      object_attributes: { id: 31, status: 'failed', sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2', ref: 'main' },
      project: { id: 1, path_with_namespace: 'group/sub/project', web_url: 'https://gitlab.example.com/group/sub/project' },
      user: { username: 'root' },
    };
    assert.equal((await sendGitlab(d.url, null, 'Pipeline Hook', pipeline)).status, 401);
    assert.equal((await sendGitlab(d.url, 'wrong', 'Pipeline Hook', pipeline)).status, 401);
    assert.equal((await sendGitlab(d.url, `${GL_SECRET}x`, 'Pipeline Hook', pipeline)).status, 401);
    assert.equal((await sendGitlab(d.url, GL_SECRET, 'Push Hook', { object_kind: 'push' })).status, 204);
    assertNothingCreated(d);
    const malformed = await http(`${d.url}/webhooks/gitlab`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': GL_SECRET },
      body: '{"object_kind":',
    });
    assert.equal(malformed.status, 400);
    assertNothingCreated(d);
    const uuid = randomUUID();
    assert.equal((await sendGitlab(d.url, GL_SECRET, 'Pipeline Hook', pipeline, uuid)).status, 204);
    assert.equal(d.logs.find('webhook ignored: repository not managed by caic').length, 1);
    assert.equal((await sendGitlab(d.url, GL_SECRET, 'Pipeline Hook', pipeline, uuid)).status, 204);
    assert.equal(d.logs.find('webhook delivery seen before; ignored').length, 1);
    assert.equal(d.logs.find('webhook ignored: repository not managed by caic').length, 1);
  });
});
