import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCorpus } from '../../src/search/vector/encode.ts';
import { readEmbeddingShards, readEmbeddingsManifest } from '../../src/io/embeddings.ts';
import type { Passage } from '../../src/types.ts';
import { fakeEncoder } from './_fake-encoder.ts';

const passages: Passage[] = Array.from({ length: 23 }, (_, i) => ({ passage_id: `p${i}`, title: `T${i % 4}`, text: `passage number ${i} about topic ${i % 5}` }));
async function* stream(list: Passage[], failAfter?: number): AsyncGenerator<Passage> {
  for (const [i, p] of list.entries()) {
    if (failAfter !== undefined && i === failAfter) throw new Error('killed');
    yield p;
  }
}
async function readAll(dir: string) {
  const ids: string[] = [];
  const chunks: Float32Array[] = [];
  for await (const s of readEmbeddingShards(dir)) {
    ids.push(...s.ids);
    chunks.push(s.vectors);
  }
  return { ids, vectors: Float32Array.from(chunks.flatMap((c) => [...c])) };
}

test('encodes into shards: manifest, sizes and vectors round-trip', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-emb-'));
  const enc = fakeEncoder(16);
  const r = await encodeCorpus(stream(passages), enc, dir, { batchSize: 4, shardRows: 10, model: { dir: 'fake' } });
  assert.equal(r.encoded, 23);
  const m = await readEmbeddingsManifest(dir);
  assert.deepEqual(m.shards.map((s) => s.rows), [10, 10, 3]);
  assert.equal(m.complete, true);
  assert.equal((await readFile(join(dir, 'shard-00000.f32'))).length, 10 * 16 * 4);
  const { ids, vectors } = await readAll(dir);
  assert.deepEqual(ids, passages.map((p) => p.passage_id));
  assert.deepEqual(vectors, await enc.encode(passages.map((p) => ({ text: p.text, title: p.title }))));
});

test('a killed encode resumes after the last finished shard and ends identical', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-emb-'));
  const enc = fakeEncoder(16);
  await assert.rejects(encodeCorpus(stream(passages, 17), enc, dir, { batchSize: 4, shardRows: 5 }), /killed/);
  const partial = await readEmbeddingsManifest(dir);
  assert.equal(partial.complete, false);
  assert.equal(partial.count, 15, 'only whole shards are listed');
  await assert.rejects(readAll(dir), /incomplete/);
  const counting = fakeEncoder(16);
  const r = await encodeCorpus(stream(passages), counting, dir, { batchSize: 4, shardRows: 5 });
  assert.equal(r.resumed, 15);
  assert.equal(r.encoded, 8);
  const fresh = await mkdtemp(join(tmpdir(), 'dprep-emb-'));
  await encodeCorpus(stream(passages), enc, fresh, { batchSize: 4, shardRows: 5 });
  assert.deepEqual(await readAll(dir), await readAll(fresh));
});

test('resume refuses another model or a changed corpus; damaged shards are caught', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-emb-'));
  await assert.rejects(encodeCorpus(stream(passages, 12), fakeEncoder(16), dir, { batchSize: 4, shardRows: 5, model: { dir: 'a' } }), /killed/);
  assert.equal((await readEmbeddingsManifest(dir)).count, 10);
  await assert.rejects(encodeCorpus(stream(passages), fakeEncoder(16), dir, { shardRows: 5, model: { dir: 'b' } }), /another model/);
  const shuffled = [...passages].reverse();
  await assert.rejects(encodeCorpus(stream(shuffled), fakeEncoder(16), dir, { shardRows: 5, model: { dir: 'a' } }), /corpus changed/);
  const r = await encodeCorpus(stream(passages), fakeEncoder(16), dir, { shardRows: 5, model: { dir: 'b' }, overwrite: true });
  assert.equal(r.resumed, 0);
  const shard = join(dir, 'shard-00001.f32');
  const bytes = await readFile(shard);
  bytes[7] ^= 0xff;
  await writeFile(shard, bytes);
  await assert.rejects(readAll(dir), /sha256/);
  await rm(shard);
  await assert.rejects(readAll(dir), /shard-00001\.f32/);
});
