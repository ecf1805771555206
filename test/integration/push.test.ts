// Web Push on a real daemon with fake-agent tasks in real containers and a local push service
// (RFC 8030) that the test decrypts (RFC 8291) and checks the VAPID signature of (RFC 8292):
// a user's task news reaches that user's browsers only, gone subscriptions are dropped, busy push
// services are retried, and endpoints on private networks are refused.
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PushKeyResp, PushPayload, PushSubscription, PushSubscriptionsResp } from '../../src/api/index.js';
import { MAX_SUBSCRIPTIONS_PER_USER, PUSH_SUBSCRIPTIONS_FILE_NAME, VAPID_FILE_NAME } from '../../src/push/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { http } from '../helpers/http.js';
import { signIn } from '../helpers/login.js';
import { decryptPush, startPushService, verifyVapid, type PushServiceStandIn, type TestSubscription } from '../helpers/push-service.js';
import { githubLoginToml, startStubForge, type StubForge } from '../helpers/stub-forge.js';
import { taskEnv, type TaskEnv } from '../helpers/task-env.js';
import { until } from '../helpers/wait.js';

type Envelope = { error: { code: string; message: string } };
const HOST = 'caic.test';

const payloads = (sub: TestSubscription): PushPayload[] => sub.delivered.map((m) => JSON.parse(decryptPush(sub, m.body).toString('utf8')) as PushPayload);

describe('Web Push with login: each user’s task news to their own browsers', { timeout: 240_000 }, () => {
  let stub: StubForge;
  let push: PushServiceStandIn;
  let env: TaskEnv;
  let alice: Record<string, string>;
  let bob: Record<string, string>;

  const subscribe = async (who: Record<string, string>, sub: Pick<TestSubscription, 'endpoint' | 'keys'>) => {
    const r = await env.api('POST', '/api/v1/push/subscriptions', { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }, who);
    assert.equal(r.status, 200, r.body);
    return r.json<PushSubscription>();
  };
  const list = async (who: Record<string, string>) => (await env.api('GET', '/api/v1/push/subscriptions', undefined, who)).json<PushSubscriptionsResp>().subscriptions;

  before(async () => {
    stub = await startStubForge();
    push = await startPushService();
    env = await taskEnv({
      extraConfig: `external_url = "https://${HOST}"\n${githubLoginToml(stub, ['alice', 'bob'])}\n[push]\nsubject = "mailto:ops@caic.test"\n`,
      daemon: { push: { testEndpoints: { ca: push.ca }, retryBaseMs: 20 } },
    });
    alice = await signIn(env.d.url, HOST, stub, { id: 101, username: 'alice' });
    bob = await signIn(env.d.url, HOST, stub, { id: 102, username: 'bob' });
  });
  after(async () => {
    await env?.[Symbol.asyncDispose]();
    await push?.[Symbol.asyncDispose]();
    await stub?.close();
  });

  test('the VAPID key pair is made on first use, 0600, and stays; the routes need a session', async () => {
    const file = join(env.d.configDir, VAPID_FILE_NAME);
    await assert.rejects(stat(file), { code: 'ENOENT' }, 'no key before anyone asks');
    assert.equal((await env.api('GET', '/api/v1/push/key', undefined, { host: HOST })).status, 401);
    const r = await env.api('GET', '/api/v1/push/key', undefined, alice);
    assert.equal(r.status, 200, r.body);
    const { publicKey } = r.json<PushKeyResp>();
    const point = Buffer.from(publicKey, 'base64url');
    assert.equal(point.length, 65);
    assert.equal(point[0], 4, 'an uncompressed P-256 point');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await env.api('GET', '/api/v1/push/key', undefined, bob)).json<PushKeyResp>().publicKey, publicKey);
    assert.ok(!r.body.includes((JSON.parse(await readFile(file, 'utf8')) as { privateKey: string }).privateKey), 'the private key is not served');
  });

  test('subscribe refuses what is not a push subscription: http, bad keys, oversized; no session → 401', async () => {
    const good = push.subscribe();
    const cases: [string, unknown][] = [
      ['http endpoint', { endpoint: good.endpoint.replace('https:', 'http:'), keys: good.keys }],
      ['not a P-256 point', { endpoint: good.endpoint, keys: { p256dh: Buffer.alloc(65, 5).toString('base64url'), auth: good.keys.auth } }],
      ['short auth', { endpoint: good.endpoint, keys: { p256dh: good.keys.p256dh, auth: randomBytes(8).toString('base64url') } }],
      ['oversized endpoint', { endpoint: `${good.endpoint}?${'x'.repeat(2000)}`, keys: good.keys }],
      ['no keys', { endpoint: good.endpoint }],
    ];
    for (const [what, body] of cases) {
      const r = await env.api('POST', '/api/v1/push/subscriptions', body, alice);
      assert.equal(r.status, 400, `${what}: ${r.body}`);
      assert.equal(r.json<Envelope>().error.code, 'BAD_REQUEST', what);
    }
    assert.equal((await env.api('POST', '/api/v1/push/subscriptions', { endpoint: good.endpoint, keys: good.keys }, { host: HOST })).status, 401);
    assert.deepEqual(await list(alice), []);
  });

  test('alice’s task asks → one push to alice, encrypted to her keys, VAPID-signed, id and title only; bob’s browser hears nothing of it', async () => {
    const subA = push.subscribe();
    const subB = push.subscribe();
    const a = await subscribe(alice, subA);
    assert.deepEqual(Object.keys(a).sort(), ['createdAt', 'endpointOrigin', 'id']);
    assert.equal(a.endpointOrigin, push.origin);
    await subscribe(bob, subB);
    assert.deepEqual((await list(alice)).map((s) => s.id), [a.id]);
    const { publicKey } = (await env.api('GET', '/api/v1/push/key', undefined, alice)).json<PushKeyResp>();

    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_ASK pick a database\nthe deploy password is hunter2' } }, alice);
    await env.waitState(task.id, 'asking', { headers: alice });
    await until(() => payloads(subA).some((p) => p.kind === 'asking'), 'the asking push at alice’s endpoint');
    const msg = subA.delivered.find((m) => (JSON.parse(decryptPush(subA, m.body).toString()) as PushPayload).kind === 'asking')!;
    const p = JSON.parse(decryptPush(subA, msg.body).toString()) as PushPayload;
    const title = (await env.task(task.id, alice)).title;
    assert.deepEqual(p, { v: 1, kind: 'asking', taskId: task.id, title, url: `/task/@${task.id}` });
    assert.ok(msg.body.length < 4096, `a small message (${msg.body.length} bytes)`);
    assert.ok(Number(msg.headers.ttl) > 0, 'TTL');
    assert.equal(msg.headers.urgency, 'high');
    const claims = await verifyVapid(msg.headers, publicKey, push.origin);
    assert.equal(claims.sub, 'mailto:ops@caic.test');
    // Nothing of the transcript but the title: not the prompt's other lines, not the agent's words.
    for (const q of payloads(subA)) {
      const text = JSON.stringify(q);
      assert.ok(!text.includes('hunter2') && !text.includes('Which database') && !text.includes('decision'), text);
    }

    // Bob's own news reaches him (his endpoint works); alice's never did.
    const sent = await env.api('POST', '/api/v1/push/test', undefined, bob);
    assert.deepEqual(sent.json(), { sent: 1 });
    await until(() => subB.delivered.length > 0, 'bob’s test push');
    assert.deepEqual(payloads(subB).map((q) => q.kind), ['test']);
    assert.ok(!payloads(subB).some((q) => q.taskId === task.id));
  });

  test('a plan and a finished turn push too; a 410 drops the subscription; 503 and 429 are retried', async () => {
    const sub = push.subscribe();
    const s = await subscribe(alice, sub);
    const plan = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_PLAN make a plan' } }, alice);
    await until(() => payloads(sub).some((p) => p.kind === 'plan' && p.taskId === plan.id), 'the plan push');
    const done = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'say hello' } }, alice);
    await until(() => payloads(sub).some((p) => p.kind === 'finished' && p.taskId === done.id), 'the finished push');

    const busy = push.subscribe();
    await subscribe(alice, busy);
    busy.answers.push(503, 429);
    sub.answers.push(410);
    await env.api('POST', '/api/v1/push/test', undefined, alice);
    await until(() => busy.delivered.length === 1, 'the push delivered after two refusals');
    assert.equal(busy.requests.length, 3);
    await until(async () => !(await list(alice)).some((x) => x.id === s.id), 'the gone subscription dropped');
    const file = await readFile(join(env.d.configDir, PUSH_SUBSCRIPTIONS_FILE_NAME), 'utf8');
    assert.ok(!file.includes(sub.endpoint), 'and gone from the file');
    assert.equal((await stat(join(env.d.configDir, PUSH_SUBSCRIPTIONS_FILE_NAME))).mode & 0o777, 0o600);
  });

  test('a tool call waiting for approval pushes the tool and the task title to the owner, opening the task', async () => {
    const sub = push.subscribe();
    await subscribe(alice, sub);
    const task = await env.create({ repos: [{ name: 'proj' }], harness: 'fake', prompt: { text: 'FAKE_TOOL echo secret-arg-9f3 > x.txt' }, permissions: { mode: 'ask' } }, alice);
    await until(() => payloads(sub).some((p) => p.kind === 'approval' && p.taskId === task.id), 'the approval push');
    const p = payloads(sub).find((q) => q.kind === 'approval')!;
    const title = (await env.task(task.id, alice)).title;
    assert.deepEqual(p, { v: 1, kind: 'approval', taskId: task.id, title, url: `/task/@${task.id}`, detail: 'Bash waits for your approval' });
    assert.ok(!p.detail.includes('secret-arg-9f3'), 'the arguments stay out of the push');
    await env.post(task.id, 'stop');
  });

  test(`a few subscriptions per user: the ${MAX_SUBSCRIPTIONS_PER_USER + 1}th replaces the oldest; unsubscribe removes only the caller’s`, async () => {
    const subs = Array.from({ length: MAX_SUBSCRIPTIONS_PER_USER + 1 }, () => push.subscribe());
    const ids: string[] = [];
    for (const s of subs) ids.push((await subscribe(bob, s)).id);
    const now = (await list(bob)).map((s) => s.id);
    assert.equal(now.length, MAX_SUBSCRIPTIONS_PER_USER);
    assert.ok(!now.includes(ids[0]!) && now.includes(ids.at(-1)!));
    // Alice cannot remove bob's subscription, by id or endpoint.
    assert.deepEqual((await env.api('POST', '/api/v1/push/subscriptions/delete', { id: ids.at(-1) }, alice)).json(), { removed: false });
    assert.deepEqual((await env.api('POST', '/api/v1/push/subscriptions/delete', { endpoint: subs.at(-1)!.endpoint }, alice)).json(), { removed: false });
    assert.deepEqual((await env.api('POST', '/api/v1/push/subscriptions/delete', { id: ids.at(-1) }, bob)).json(), { removed: true });
    assert.equal((await list(bob)).length, MAX_SUBSCRIPTIONS_PER_USER - 1);
    assert.equal((await env.api('POST', '/api/v1/push/subscriptions/delete', {}, bob)).status, 400);
  });
});

describe('Web Push endpoints outside tests: public https push services only', { timeout: 60_000 }, () => {
  let d: TestDaemon;
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  const post = (endpoint: string) =>
    http(`${d.url}/api/v1/push/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ endpoint, keys }) });

  before(async () => {
    d = await startTestDaemon('', { webDir: null });
  });
  after(async () => {
    await d?.[Symbol.asyncDispose]();
  });

  test('loopback, private, link-local and local names are refused; a public push service is taken', async () => {
    for (const endpoint of [
      'https://127.0.0.1:8443/push/x',
      'https://localhost/push/x',
      'https://[::1]/push/x',
      'https://10.1.2.3/push/x',
      'https://192.168.1.20/push/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::ffff:127.0.0.1]/push/x',
      'https://100.64.0.1/push/x',
      'https://printer.local/push/x',
      'https://intranet/push/x',
      'https://user:pw@push.example.com/x',
    ]) {
      const r = await post(endpoint);
      assert.equal(r.status, 400, `${endpoint}: ${r.body}`);
      assert.equal(r.json<Envelope>().error.code, 'BAD_REQUEST');
    }
    const ok = await post('https://fcm.googleapis.com/fcm/send/abc:def');
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json<PushSubscription>().endpointOrigin, 'https://fcm.googleapis.com');
  });
});
