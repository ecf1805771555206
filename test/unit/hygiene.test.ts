// The clean-up plan (one pure function for the loop and doctor), the doctor report's filter per
// viewer, units of [limits], and when a stats sample is worth logging.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseSize, resourceLimits, ConfigFileSchema } from '../../src/config/index.js';
import type { CaicContainer, CaicImage, EngineSnapshot } from '../../src/containers/index.js';
import { doctorReport, planHygiene, type TaskView } from '../../src/tasks/index.js';
import { worthLogging } from '../../src/tasks/limits.js';
import { renderDoctor } from '../../src/cli/doctor.js';

const NOW = 10 * 86_400_000;
const limits = { ...resourceLimits(ConfigFileSchema.parse({}).limits), idleStopMs: 3_600_000, removeStoppedAfterMs: 86_400_000, orphanGraceMs: 600_000 };
const ME = 'inst-me';

function container(o: Partial<CaicContainer> & { taskId: string }): CaicContainer {
  return { id: `id-${o.taskId}`, name: `caic-${o.taskId}`, instance: ME, state: 'exited', image: 'caic-agent:latest', imageId: 'sha256:agent', createdMs: 0, finishedMs: 0, labels: {}, ...o };
}
function image(o: Partial<CaicImage> & { id: string }): CaicImage {
  return { tags: [], kind: 'agent', sizeBytes: 100, createdMs: 0, agents: {}, containers: 0, labels: {}, ...o };
}
const snapshot = (containers: CaicContainer[], images: CaicImage[] = [], tagged: string[] = ['sha256:agent']): EngineSnapshot => ({
  engine: { version: '1', apiVersion: '1', os: 'x', rootDir: '/var/lib/docker', storageDriver: 'overlay2' },
  disk: { path: '/var/lib/docker', freeBytes: 1, totalBytes: 2 },
  containers,
  images,
  taggedImageIds: new Set(tagged),
});
const tasks = (...views: TaskView[]) => new Map(views.map((v) => [v.id, v]));

test('units: sizes and durations', () => {
  assert.equal(parseSize('8g'), 8 * 1024 ** 3);
  assert.equal(parseSize('512M'), 512 * 1024 ** 2);
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize('lots'), null);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('5 weeks'), null);
  assert.throws(() => ConfigFileSchema.parse({ limits: { memory: 'huge' } }), /must be a size/);
  assert.throws(() => ConfigFileSchema.parse({ limits: { idle_stop: '10' } }), /must be a duration/);
});

test('plan: idle tasks stop, old stopped containers go, orphans after the grace, stale images', () => {
  const plan = planHygiene({
    snapshot: snapshot(
      [
        container({ taskId: 'old', finishedMs: NOW - 2 * 86_400_000 }),
        container({ taskId: 'recent', finishedMs: NOW - 1000 }),
        container({ taskId: 'live', state: 'running' }),
        container({ taskId: 'orphan', createdMs: NOW - 700_000 }),
        container({ taskId: 'young-orphan', createdMs: NOW - 1000 }),
        // Another daemon's container on the same engine, and one of a caic without instance labels.
        container({ taskId: 'theirs', instance: 'inst-other', createdMs: 0 }),
        container({ taskId: 'legacy', instance: '', createdMs: 0 }),
      ],
      [
        image({ id: 'sha256:dangling' }),
        image({ id: 'sha256:dangling-used', containers: 1 }),
        image({ id: 'sha256:tagged', tags: ['caic-agent-claude:latest'] }),
        image({ id: 'sha256:repo-stale', kind: 'repo', tags: ['caic-repo:1'], parentId: 'sha256:gone' }),
        image({ id: 'sha256:repo-current', kind: 'repo', tags: ['caic-repo:2'], parentId: 'sha256:agent' }),
        image({ id: 'sha256:base', kind: 'base', tags: ['caic-base:bookworm'] }),
      ],
    ),
    instance: ME,
    tasks: tasks(
      { id: 'old', state: 'stopped', activeAt: 0, owner: 'a' },
      { id: 'recent', state: 'stopped', activeAt: 0, owner: 'a' },
      { id: 'live', state: 'waiting', activeAt: NOW - 2 * 3_600_000, owner: 'b' },
      { id: 'busy', state: 'running', activeAt: 0, owner: 'b' },
      { id: 'fresh', state: 'asking', activeAt: NOW - 1000, owner: 'b' },
    ),
    limits,
    now: NOW,
  });
  assert.deepEqual(
    plan.map((a) => `${a.kind} ${a.taskId ?? a.imageId}`).sort(),
    ['idleStop live', 'pruneImage sha256:dangling', 'pruneImage sha256:repo-stale', 'removeOrphan orphan', 'removeStopped old'],
  );
  // Everything off: nothing.
  const off = { ...limits, idleStopMs: 0, removeStoppedAfterMs: 0, orphanGraceMs: 0, pruneImages: false };
  assert.deepEqual(planHygiene({ snapshot: snapshot([container({ taskId: 'orphan' })], [image({ id: 'sha256:d' })]), instance: ME, tasks: tasks(), limits: off, now: NOW }), []);
});

test('doctor report: with login, other users’ containers and tasks are counted, never named', () => {
  const snap = snapshot([container({ taskId: 'alice-task', state: 'running' }), container({ taskId: 'bob-task', finishedMs: 1 }), container({ taskId: 'orphan-x' })]);
  const views = tasks({ id: 'alice-task', state: 'waiting', activeAt: 0, owner: 'alice' }, { id: 'bob-task', state: 'stopped', activeAt: 0, owner: 'bob' });
  const actions = planHygiene({ snapshot: snap, instance: ME, tasks: views, limits, now: NOW });
  const opts = { instance: ME, image: 'caic-agent:latest', limits, tasks: views };
  const bob = doctorReport({ snapshot: snap, actions }, { ...opts, viewer: 'bob' });
  assert.equal(bob.containers.running, 1);
  assert.equal(bob.containers.stopped, 2);
  assert.deepEqual(bob.containers.items.map((c) => c.taskId), ['bob-task']);
  assert.deepEqual(bob.hygiene.actions.map((a) => a.kind).sort(), ['removeStopped']);
  assert.equal(bob.hygiene.hidden, 2);
  const text = JSON.stringify(bob);
  assert.ok(!text.includes('alice-task') && !text.includes('orphan-x'), text);
  const all = doctorReport({ snapshot: snap, actions }, { ...opts, viewer: null });
  assert.equal(all.containers.items.length, 3);
  assert.equal(all.hygiene.hidden, 0);
  const text2 = renderDoctor(all);
  assert.match(text2, /^engine: Docker 1 \(API 1\)/);
  assert.match(text2, /containers: 1 running, 2 stopped/);
  assert.match(text2, /remove orphan container caic-orphan-x: no task log for orphan-x/);
});

test('stats samples are logged when they move, else every 10 minutes', () => {
  const s = { cpuPercent: 5, memoryBytes: 100 << 20, memoryLimitBytes: 0, diskBytes: 50 << 20 };
  assert.equal(worthLogging(null, s, 0), true);
  assert.equal(worthLogging(s, { ...s, cpuPercent: 8 }, 30_000), false);
  assert.equal(worthLogging(s, { ...s, cpuPercent: 40 }, 30_000), true);
  assert.equal(worthLogging(s, { ...s, diskBytes: 80 << 20 }, 30_000), true);
  assert.equal(worthLogging(s, s, 11 * 60_000), true);
});
