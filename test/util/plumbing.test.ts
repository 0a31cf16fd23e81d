import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedWindow } from '../../src/util/ordered-window.ts';
import { WorkerPool } from '../../src/util/workers.ts';

const delay = <T>(ms: number, v: T) => new Promise<T>((resolve) => setTimeout(() => resolve(v), ms));

test('OrderedWindow: consumes in submission order whatever finishes first, with at most `limit` pending', async () => {
  const consumed: number[] = [];
  let maxPending = 0;
  const window = new OrderedWindow<number, number>(3, (result, meta) => {
    assert.equal(result, meta * 10);
    consumed.push(meta);
  });
  for (let i = 0; i < 10; i++) {
    await window.push(delay((10 - i) * 3, i * 10), i);
    maxPending = Math.max(maxPending, window.length);
  }
  assert.ok(maxPending <= 3, `pending ${maxPending}`);
  await window.drain();
  assert.deepEqual(consumed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('OrderedWindow: a failed result rejects when its turn comes', async () => {
  const window = new OrderedWindow<number, number>(1, () => {});
  await window.push(Promise.reject(new Error('boom')), 0);
  await assert.rejects(window.push(delay(1, 1), 1), /boom/);
});

test('WorkerPool: TypeScript workers answer run() and send(); errors and exits reject with the pool name', async () => {
  const pool = WorkerPool.start<{ n: number }, { n: number; tag: string; thread: number }>('echo worker', new URL('./_echo-worker.ts', import.meta.url), 2, { tag: 'x' });
  try {
    const results = await Promise.all([1, 2, 3, 4].map((n) => pool.run({ n })));
    assert.deepEqual(results.map((r) => [r.n, r.tag]), [[2, 'x'], [4, 'x'], [6, 'x'], [8, 'x']]);
    const a = await pool.send(0, { n: 5 });
    const b = await pool.send(1, { n: 5 });
    assert.notEqual(a.thread, b.thread, 'send() targets the chosen worker');
    await assert.rejects(pool.run({ n: -1 }), /echo worker failed: Error: negative -1/);
    await assert.rejects(pool.send(1, { n: 999 }), /echo worker exited with code 3/);
    await assert.rejects(pool.run({ n: 1 }), /echo worker exited with code 3/, 'a dead pool fails later requests too');
  } finally {
    await pool.close();
  }
});
