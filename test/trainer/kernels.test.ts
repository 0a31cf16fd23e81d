import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getTf, TEST_BACKEND } from './_helpers.ts';

const wasmOnly = TEST_BACKEND === 'wasm' ? false : 'wasm kernels';

test('row gather (embedding lookup): rows by index, out-of-range ids refused, other axes still right', { skip: wasmOnly }, async () => {
  const tf = await getTf();
  const table = tf.tensor2d([0, 1, 10, 11, 20, 21, 30, 31], [4, 2]);
  const ids = tf.tensor2d([3, 0, 3, 2], [2, 2], 'int32');
  const got = tf.gather(table, ids);
  assert.deepEqual(got.shape, [2, 2, 2]);
  assert.deepEqual([...got.dataSync()], [30, 31, 0, 1, 30, 31, 20, 21]);
  assert.throws(() => tf.gather(table, tf.tensor1d([1, 4], 'int32')), /index value 4 is not in \[0, 3\]/);
  assert.throws(() => tf.gather(table, tf.tensor1d([-1], 'int32')), /index value -1/);
  assert.deepEqual([...tf.gather(table, tf.tensor1d([1, 1, 0], 'int32'), 1).dataSync()], [1, 1, 0, 11, 11, 10, 21, 21, 20, 31, 31, 30]);
  // The gradient (UnsortedSegmentSum) adds rows of repeated ids.
  const g = tf.grad((t) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([2, 2, 0], 'int32')), tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]))))(table);
  assert.deepEqual([...g.dataSync()], [5, 6, 0, 0, 4, 6, 0, 0]);
  tf.dispose([table, ids, got, g]);
});

test('clones share memory on wasm and outlive the original; variables still change on assign', { skip: wasmOnly }, async () => {
  const tf = await getTf();
  const before = tf.memory().numBytes;
  const x = tf.tensor1d([1, 2, 3]);
  const y = x.clone();
  assert.equal(tf.memory().numBytes - before, 2 * 12, 'each tensor counts its bytes');
  x.dispose();
  assert.deepEqual([...y.dataSync()], [1, 2, 3]);
  const v = tf.variable(tf.tensor1d([5, 6]));
  const saved = v.clone();
  v.assign(tf.tensor1d([7, 8]));
  assert.deepEqual([...saved.dataSync()], [5, 6]);
  assert.deepEqual([...v.dataSync()], [7, 8]);
  tf.dispose([y, v, saved]);
});

test('transposes: the identity permutation shares memory, others still move data', { skip: wasmOnly }, async () => {
  const tf = await getTf();
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const same = tf.transpose(x, [0, 1]);
  const swapped = tf.transpose(x, [1, 0]);
  x.dispose();
  assert.deepEqual([...same.dataSync()], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(swapped.shape, [3, 2]);
  assert.deepEqual([...swapped.dataSync()], [1, 4, 2, 5, 3, 6]);
  tf.dispose([same, swapped]);
});
