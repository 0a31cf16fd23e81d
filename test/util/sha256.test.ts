/**
 * sha256Bytes feeds the hash in slices: Node's Hash.update refuses 2 GiB or more at once, which
 * crashed opening a 10M-passage BM25 index (3.3 GB postings file) with "data is too long".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha256Bytes } from '../../src/util/sha256.ts';

test('sha256Bytes: any slice size gives the one-shot digest (views, offsets and shared buffers too)', () => {
  const data = new Uint8Array(100_003);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const want = createHash('sha256').update(data).digest('hex');
  for (const slice of [1, 7, 4096, 99_999, 100_003, 1 << 30]) assert.equal(sha256Bytes(data, slice), want, `slice ${slice}`);
  const shared = new SharedArrayBuffer(data.length);
  new Uint8Array(shared).set(data);
  assert.equal(sha256Bytes(shared, 1000), want);
  const view = data.subarray(3, 50_000);
  assert.equal(sha256Bytes(view, 333), createHash('sha256').update(view).digest('hex'));
});
