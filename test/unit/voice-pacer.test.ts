// Pacer: the gateway's outgoing audio leaves one 20 ms packet every 20 ms, with continuous RTP numbering, catches up only a little after a stall, and drops everything at once on barge-in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pacer, type PacedPacket } from '../../src/voice/index.js';

/** A clock and scheduler the test moves by hand. */
function fakeTime() {
  let now = 0;
  let tasks: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number) => {
      const id = ++ids;
      tasks.push({ at: now + ms, fn, id });
      return () => {
        tasks = tasks.filter((t) => t.id !== id);
      };
    },
    /** Moves the clock to `now + ms`, running what falls due on the way, in order. */
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        tasks.sort((a, b) => a.at - b.at);
        const next = tasks[0];
        if (!next || next.at > end) break;
        tasks.shift();
        now = Math.max(now, next.at);
        next.fn();
      }
      now = end;
    },
    /** Jumps the clock without running anything (the process was held up). */
    stall(ms: number) {
      now += ms;
    },
  };
}

function setup(maxQueued?: number) {
  const time = fakeTime();
  const sent: (PacedPacket & { t: number })[] = [];
  const pacer = new Pacer({ send: (p) => sent.push({ ...p, t: time.now() }), now: time.now, schedule: time.schedule, ...(maxQueued ? { maxQueued } : {}) });
  return { time, sent, pacer };
}

const packet = (i: number) => Uint8Array.of(i & 0xff);

describe('Pacer', () => {
  test('a burst from the model leaves at one packet per 20 ms, numbered continuously, the marker on the first', () => {
    const { time, sent, pacer } = setup();
    for (let i = 0; i < 50; i++) pacer.push(packet(i));
    assert.equal(sent.length, 1, 'the first at once');
    time.advance(19);
    assert.equal(sent.length, 1);
    time.advance(1);
    assert.equal(sent.length, 2);
    time.advance(980);
    assert.equal(sent.length, 50);
    sent.forEach((p, i) => {
      assert.equal(p.t, i * 20, 'due times');
      assert.equal(p.payload[0], i);
      assert.equal(p.marker, i === 0);
      if (i > 0) {
        assert.equal(p.sequenceNumber, (sent[i - 1]!.sequenceNumber + 1) & 0xffff);
        assert.equal(p.timestamp, (sent[i - 1]!.timestamp + 960) >>> 0);
      }
    });
    assert.equal(pacer.queued, 0);
  });

  test('after a pause the RTP clock has run on by the pause; a packet pushed while the last still plays waits its turn', () => {
    const { time, sent, pacer } = setup();
    pacer.push(packet(0));
    pacer.push(packet(1));
    time.advance(20);
    time.advance(1_000);
    pacer.push(packet(2));
    assert.equal(sent.length, 3);
    assert.equal(sent[2]!.marker, true, 'a new talkspurt');
    // Packet 1 ended at 40 ms; packet 2 left at 1020 ms: 980 ms of silence plus its predecessor's 20 ms.
    assert.equal(sent[2]!.timestamp, (sent[1]!.timestamp + 960 + 980 * 48) >>> 0);
    assert.equal(sent[2]!.sequenceNumber, (sent[1]!.sequenceNumber + 1) & 0xffff);
    time.advance(5);
    pacer.push(packet(3));
    assert.equal(sent.length, 3, 'packet 2 plays until 1040 ms');
    time.advance(15);
    assert.equal(sent.length, 4);
    assert.equal(sent[3]!.t, 1_040);
    assert.equal(sent[3]!.marker, false);
  });

  test('held up for half a second, it catches up three frames, not twenty-five', () => {
    const { time, sent, pacer } = setup();
    for (let i = 0; i < 60; i++) pacer.push(packet(i));
    time.advance(100);
    assert.equal(sent.length, 6);
    time.stall(500);
    time.advance(0);
    // The timer due at 120 ms fires at 600 ms: the frame due then and three more.
    assert.equal(sent.length, 10);
    time.advance(20);
    assert.equal(sent.length, 11, 'then one per 20 ms again');
  });

  test('clear drops every queued packet at once and stops; numbering goes on after it', () => {
    const { time, sent, pacer } = setup();
    for (let i = 0; i < 100; i++) pacer.push(packet(i));
    time.advance(100);
    assert.equal(pacer.clear(), 94);
    assert.equal(pacer.queued, 0);
    time.advance(1_000);
    assert.equal(sent.length, 6, 'nothing of the cut reply leaves');
    pacer.push(packet(7));
    assert.equal(sent.length, 7);
    assert.equal(sent[6]!.sequenceNumber, (sent[5]!.sequenceNumber + 1) & 0xffff);
    assert.equal(pacer.stats.dropped, 94);
  });

  test('a runaway reply is bounded; a closed pacer sends nothing', () => {
    const { time, sent, pacer } = setup(10);
    const taken = Array.from({ length: 25 }, (_, i) => pacer.push(packet(i)));
    assert.equal(pacer.stats.overflow, 14, 'one sent at once, ten held, the rest refused');
    assert.deepEqual(taken, Array.from({ length: 25 }, (_, i) => i < 11), 'push says which it took');
    pacer.close();
    assert.equal(pacer.push(packet(99)), false);
    time.advance(1_000);
    assert.equal(sent.length, 1);
  });
});
