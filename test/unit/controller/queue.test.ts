import test from 'ava';
import { WorkQueue, type Clock } from '../../../operator/controller/queue.js';

class FakeClock implements Clock {
  t = 0;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number) {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at);
      if (!due.length) break;
      this.timers = this.timers.filter((x) => x !== due[0]);
      due[0]!.fn();
    }
  }
}

function deferred() {
  let resolve!: () => void;
  const p = new Promise<void>((r) => (resolve = r));
  return { p, resolve };
}
const tick = () => new Promise((r) => setImmediate(r));

test('a key never runs twice at once and adds while busy collapse into exactly one more run', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const runs: string[] = [];
  let gate = deferred();
  const q = new WorkQueue({
    concurrency: 4,
    handler: async (k) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs.push(k);
      await gate.p;
      running--;
    },
  });
  q.add('a');
  await tick();
  t.is(q.inFlight, 1);
  for (let i = 0; i < 10; i++) q.add('a');
  t.is(q.depth, 1, 'ten adds while busy are one pending run');
  const first = gate;
  gate = deferred();
  first.resolve();
  await tick();
  await tick();
  gate.resolve();
  await q.idle();
  t.deepEqual(runs, ['a', 'a']);
  t.is(maxRunning, 1);
});

test('different keys run in parallel up to the concurrency limit', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const q = new WorkQueue({
    concurrency: 2,
    handler: async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    },
  });
  for (const k of ['a', 'b', 'c', 'd']) q.add(k);
  t.is(q.depth + q.inFlight, 4, 'two running, two waiting');
  await q.idle();
  t.is(maxRunning, 2);
  t.is(q.depth, 0);
});

test('failures back off exponentially with jitter, capped, and success forgets', async (t) => {
  const clock = new FakeClock();
  let fail = 3;
  const calls: number[] = [];
  const errors: number[] = [];
  const q = new WorkQueue({
    clock,
    random: () => 0.5,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    jitter: 0.2,
    handler: async () => {
      calls.push(clock.now());
      if (fail-- > 0) throw new Error('boom');
    },
    onError: (_k, _e, ms) => errors.push(ms),
  });
  q.add('k');
  await q.idle();
  t.deepEqual(errors, [110]);
  t.is(q.failures('k'), 1);
  clock.advance(110);
  await q.idle();
  clock.advance(220);
  await q.idle();
  t.deepEqual(errors, [110, 220, 440]);
  clock.advance(440);
  await q.idle();
  t.deepEqual(calls, [0, 110, 330, 770]);
  t.is(q.failures('k'), 0, 'forgotten after success');
  t.is(q.backoff(10), 1000, 'capped');
  t.is(q.backoff(100), 1000, 'no overflow for many failures');
});

test('requeueAfter re-checks later; an immediate add supersedes the delayed one', async (t) => {
  const clock = new FakeClock();
  let n = 0;
  const q = new WorkQueue({ clock, handler: async () => (n++ === 0 ? { requeueAfterMs: 5000 } : undefined) });
  q.add('k');
  await q.idle();
  t.is(q.delayed, 1);
  q.add('k');
  t.is(q.delayed, 0);
  await q.idle();
  t.is(n, 2);
  clock.advance(10_000);
  await q.idle();
  t.is(n, 2);
});

test('addAfter keeps the soonest pending time', async (t) => {
  const clock = new FakeClock();
  let n = 0;
  const q = new WorkQueue({ clock, handler: async () => void n++ });
  q.addAfter('k', 1000);
  q.addAfter('k', 5000);
  q.addAfter('k', 500);
  clock.advance(500);
  await q.idle();
  t.is(n, 1);
  clock.advance(5000);
  await q.idle();
  t.is(n, 1);
});

test('periodic resync adds every known key', async (t) => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const q = new WorkQueue({ clock, resyncMs: 1000, resyncKeys: () => ['x', 'y'], handler: async (k) => void seen.push(k) });
  clock.advance(1000);
  await q.idle();
  clock.advance(1000);
  await q.idle();
  t.deepEqual(seen, ['x', 'y', 'x', 'y']);
  await q.shutdown();
  clock.advance(5000);
  await q.idle();
  t.is(seen.length, 4);
});

test('shutdown finishes in-flight work, drops waiting work, refuses new work', async (t) => {
  const gate = deferred();
  const done: string[] = [];
  const q = new WorkQueue({
    concurrency: 1,
    handler: async (k) => {
      if (k === 'a') await gate.p;
      done.push(k);
    },
  });
  q.add('a');
  q.add('b');
  await tick();
  const s = q.shutdown();
  q.add('c');
  let finished = false;
  void s.then(() => (finished = true));
  await tick();
  t.false(finished, 'waits for the in-flight key');
  gate.resolve();
  await s;
  t.deepEqual(done, ['a']);
  t.is(q.depth, 0);
});
