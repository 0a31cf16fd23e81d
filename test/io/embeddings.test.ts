/**
 * Embeddings integrity (issue 15): every file of a shard is in the manifest (size + sha256), sizes
 * are checked on every open, hashes on read and on resume, vectors must be finite, and the manifest
 * names model and corpus by content. One row per kind of damage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEmbeddingsSource, EmbeddingsWriter, readEmbeddingShards, readEmbeddingsManifest } from '../../src/io/embeddings.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';

const DIM = 4;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An embeddings dir of 7 rows in shards of 3 (3 + 3 + 1), made by the writer. */
async function makeDir(corpus: { file: string; bytes: number; sha256: string } | null = null): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-embint-'));
  const w = await EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 3, model: { sha256: 'a'.repeat(64), files: { 'model.safetensors': 'a'.repeat(64) } }, corpus });
  const ids = Array.from({ length: 7 }, (_, i) => `p${i}`);
  await w.add(ids, Float32Array.from({ length: 7 * DIM }, (_, i) => i / 10));
  await w.finish();
  return dir;
}

async function readAll(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of readEmbeddingShards(dir)) ids.push(...s.ids);
  return ids;
}

async function editManifest(dir: string, edit: (m: any) => void): Promise<void> {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(await readFile(path, 'utf8'));
  edit(m);
  await writeFile(path, JSON.stringify(m));
}

test('embeddings: the manifest covers both files of every shard, with no path outside the dir', async () => {
  const dir = await makeDir();
  const m = await readEmbeddingsManifest(dir);
  assert.equal(m.shards.length, 3);
  for (const s of m.shards) {
    const f32 = await readFile(join(dir, s.file));
    const ids = await readFile(join(dir, s.ids));
    assert.deepEqual([s.bytes, s.sha256, s.idsBytes, s.idsSha256], [f32.length, sha(f32), ids.length, sha(ids)]);
  }
  assert.doesNotMatch(await readFile(join(dir, 'manifest.json'), 'utf8'), new RegExp(tmpdir()));
  assert.deepEqual(await readAll(dir), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
});

// [damage, what it does to the dir, the file the message names, the message]
const DAMAGE: [string, (dir: string) => Promise<void>, string, RegExp][] = [
  ['a flipped byte in a .f32', async (d) => flip(join(d, 'shard-00001.f32'), 5), 'shard-00001.f32', /sha256 .* does not match manifest\.json.*dprep encode --overwrite/],
  ['a truncated .f32', (d) => truncate(join(d, 'shard-00002.f32'), 8), 'shard-00002.f32', /expected 16 bytes as manifest\.json says, found 8/],
  ['a missing .f32', async (d) => (await import('node:fs/promises')).rm(join(d, 'shard-00000.f32')), 'shard-00000.f32', /found no file/],
  ['two .ids lines swapped (same size)', async (d) => swapLines(join(d, 'shard-00000.ids'), 0, 1), 'shard-00000.ids', /ids are damaged or reordered/],
  ['a truncated .ids', (d) => truncate(join(d, 'shard-00001.ids'), 3), 'shard-00001.ids', /expected \d+ bytes as manifest\.json says, found 3/],
  ['a NaN row with its hash updated', (d) => poison(d, 'shard-00001', 1, NaN), 'shard-00001.f32', /row 1 \(passage "p4"\).*dim 2 is NaN/],
  ['an Infinity with its hash updated', (d) => poison(d, 'shard-00002', 0, Infinity), 'shard-00002.f32', /row 0 \(passage "p6"\).*Infinity/],
  ['a manifest pointing outside the dir', (d) => editManifest(d, (m) => (m.shards[0].ids = '../other.ids')), 'manifest.json', /shards\[0\], field "ids": expected a file name/],
  ['a manifest without the .ids hash (older dprep)', (d) => editManifest(d, (m) => delete m.shards[1].idsSha256), 'manifest.json', /field "idsSha256".*older dprep.*--overwrite/],
  ['a manifest whose bytes disagree with rows × dim', (d) => editManifest(d, (m) => (m.shards[0].bytes = 40)), 'manifest.json', /field "bytes": is 40 but 3 rows × dim 4 × 4 is 48/],
];
for (const [name, damage, file, message] of DAMAGE) {
  test(`embeddings: ${name} is refused on read, naming ${file}`, async () => {
    const dir = await makeDir();
    await damage(dir);
    const err = await readAll(dir).then(() => undefined, (e) => e);
    assert.ok(err instanceof InputError, `expected an InputError, got ${err}`);
    assert.equal(err.file, join(dir, file));
    assert.match(err.message, message);
  });
}

test('embeddings: a resume hashes the kept shards first (a same-size flip is caught before encoding on)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-embint-'));
  const w = await EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 2 });
  await w.add(['a', 'b', 'c', 'd'], new Float32Array(4 * DIM).fill(0.5)); // two shards, not finished
  assert.equal((await EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 2 })).resumedRows, 4);
  await flip(join(dir, 'shard-00001.f32'), 0);
  await assert.rejects(EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 2 }), (e: Error) => e instanceof InputError && /shard-00001\.f32: sha256/.test(e.message));
  // Starting over is the recovery the message names.
  assert.equal((await EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 2, overwrite: true })).resumedRows, 0);
});

test('embeddings: a resume with another corpus content or model content is refused, naming what changed', async () => {
  const corpus = { file: 'c.jsonl', bytes: 10, sha256: 'c'.repeat(64) };
  const dir = await makeDir(corpus);
  const model = { sha256: 'a'.repeat(64), files: { 'model.safetensors': 'a'.repeat(64) } };
  // Same content under another name is the same corpus: a resume (here: already complete).
  assert.equal((await EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 3, model, corpus: { ...corpus, file: 'copy.jsonl' } })).complete, true);
  await assert.rejects(
    EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 3, model, corpus: { ...corpus, sha256: 'd'.repeat(64) } }),
    (e: Error) => e instanceof UsageError && /another corpus .*sha256 c{64}; now: .*sha256 d{64}.*--overwrite/.test(e.message),
  );
  await assert.rejects(
    EmbeddingsWriter.open(dir, { dim: DIM, shardRows: 3, model: { sha256: 'b'.repeat(64), files: { 'model.safetensors': 'b'.repeat(64) } }, corpus }),
    (e: Error) => e instanceof UsageError && /another model: the encoder's files changed since they were made \(model\.safetensors\)/.test(e.message),
  );
});

test('embeddings: readers refuse another corpus (by content) and another passage encoder', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dprep-embint-'));
  const text = '{"passage_id":"p0","title":"","text":"x"}\n';
  await writeFile(join(tmp, 'c.jsonl'), text);
  await writeFile(join(tmp, 'same-size.jsonl'), text.replace('x', 'y'));
  const dir = await makeDir({ file: 'c.jsonl', bytes: text.length, sha256: sha(Buffer.from(text)) });
  await checkEmbeddingsSource(dir, { corpus: join(tmp, 'c.jsonl') });
  await assert.rejects(checkEmbeddingsSource(dir, { corpus: join(tmp, 'same-size.jsonl') }), /made from another corpus \(c\.jsonl, 42 bytes.*than --corpus .*same-size\.jsonl/);
  const other = { dir: 'runs/x', sha256: 'b'.repeat(64), files: { 'model.safetensors': 'b'.repeat(64) } };
  await assert.rejects(checkEmbeddingsSource(dir, { model: other }), /another passage encoder than runs\/x \(files that differ: model\.safetensors\).*--overwrite/);
  await checkEmbeddingsSource(dir, { model: { ...other, sha256: 'a'.repeat(64) } });
});

async function flip(path: string, at: number): Promise<void> {
  const b = await readFile(path);
  b[at] ^= 0x40;
  await writeFile(path, b);
}

async function swapLines(path: string, i: number, j: number): Promise<void> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  [lines[i], lines[j]] = [lines[j], lines[i]];
  await writeFile(path, lines.join('\n'));
}

/** Writes a non-finite value into row `row`, dim 2, and updates the manifest's hash (so only the value check can catch it). */
async function poison(dir: string, shard: string, row: number, value: number): Promise<void> {
  const path = join(dir, `${shard}.f32`);
  const b = await readFile(path);
  const v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  v[row * DIM + 2] = value;
  const bytes = new Uint8Array(v.buffer);
  await writeFile(path, bytes);
  await editManifest(dir, (m) => (m.shards.find((s: { file: string }) => s.file === `${shard}.f32`).sha256 = sha(bytes)));
}
