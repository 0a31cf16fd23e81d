import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, clipByGlobalNorm, linearSchedule } from '../../src/trainer/optimizer.ts';

test('linear warmup/decay schedule (HF get_linear_schedule_with_warmup)', () => {
  const table: [number, number, number, number][] = [
    [0, 10, 100, 0], [5, 10, 100, 0.5], [10, 10, 100, 1], [55, 10, 100, 0.5], [100, 10, 100, 0], [120, 10, 100, 0], [0, 0, 4, 1], [2, 0, 4, 0.5],
  ];
  for (const [step, warmup, total, want] of table) assert.equal(linearSchedule(step, warmup, total), want, `${step}/${warmup}/${total}`);
});

test('AdamW matches the PyTorch update rule step by step, with decoupled decay off biases', () => {
  const opt = new AdamW({ lr: 0.1, weightDecay: 0.5 });
  const params = new Map([['w.weight', Float32Array.from([1, -2])], ['w.bias', Float32Array.from([3])]]);
  const ref = { w: [1, -2], b: [3], m: [0, 0, 0], v: [0, 0, 0] };
  const gs = [[0.5, -1, 2], [0.25, 0.5, -1]];
  gs.forEach((g, t) => {
    opt.apply(params, new Map([['w.weight', Float32Array.from(g.slice(0, 2))], ['w.bias', Float32Array.from(g.slice(2))]]), 0.1);
    const all = [...ref.w, ...ref.b];
    for (let i = 0; i < 3; i++) {
      ref.m[i] = 0.9 * ref.m[i] + 0.1 * g[i];
      ref.v[i] = 0.999 * ref.v[i] + 0.001 * g[i] * g[i];
      const mh = ref.m[i] / (1 - 0.9 ** (t + 1));
      const vh = ref.v[i] / (1 - 0.999 ** (t + 1));
      const decay = i < 2 ? 1 - 0.1 * 0.5 : 1;
      all[i] = all[i] * decay - (0.1 * mh) / (Math.sqrt(vh) + 1e-8);
    }
    ref.w = all.slice(0, 2);
    ref.b = all.slice(2);
  });
  assert.ok(Math.abs(params.get('w.weight')![0] - ref.w[0]) < 1e-6);
  assert.ok(Math.abs(params.get('w.weight')![1] - ref.w[1]) < 1e-6);
  assert.ok(Math.abs(params.get('w.bias')![0] - ref.b[0]) < 1e-6);
  assert.equal(opt.step, 2);
  // State round trip continues identically.
  const copy = new AdamW({ lr: 0.1, weightDecay: 0.5 });
  copy.loadState(opt.stateTensors(), opt.step);
  const p1 = new Map([['w.weight', Float32Array.from(params.get('w.weight')!)], ['w.bias', Float32Array.from(params.get('w.bias')!)]]);
  const g = new Map([['w.weight', Float32Array.from([1, 1])], ['w.bias', Float32Array.from([1])]]);
  opt.apply(params, g, 0.05);
  copy.apply(p1, g, 0.05);
  assert.deepEqual(p1, params);
});

test('clipByGlobalNorm scales to the max norm and reports the norm before', () => {
  const grads = new Map([['a', Float32Array.from([3, 0])], ['b', Float32Array.from([4])]]);
  assert.equal(clipByGlobalNorm(grads, 1), 5);
  const n = Math.hypot(...grads.get('a')!, ...grads.get('b')!);
  assert.ok(Math.abs(n - 1) < 1e-5);
  const small = new Map([['a', Float32Array.from([0.1])]]);
  clipByGlobalNorm(small, 1);
  assert.equal(small.get('a')![0], Math.fround(0.1));
});
