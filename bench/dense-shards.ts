/**
 * Dense search over sharded embeddings at MS MARCO row count (8.8M) and reduced dim, run step by
 * step by bench/dense-shards.sh (each step its own process, so /usr/bin/time gives its peak RSS):
 *   gen   DIR N DIM SHARD_ROWS NQ   clustered synthetic embeddings (EmbeddingsWriter shards) + NQ queries
 *   exact DIR K THREADS BACKEND     exact search shard by shard (searchEmbeddingShards); writes DIR/exact-ids.i32
 *   ann   DIR K THREADS KIND NLIST NPROBE PQM   build (or reuse) and search an approximate index; recall vs exact-ids
 * Vectors: 4,096 seeded centres, each row a centre plus noise (0.35 × uniform), so IVF has
 * clusters to find, as real embeddings do; queries are drawn the same way (seed 2).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddingsWriter, readEmbeddingsManifest } from '../src/io/embeddings.ts';
import { searchEmbeddingShards } from '../src/search/vector/sharded.ts';
import { openAnnIndex, searchAnn } from '../src/search/vector/ann.ts';

const [cmd, dir, ...args] = process.argv.slice(2);
const CENTRES = 4096;

function uniform(count: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

/** Rows [start, start+count) of the clustered set (row r near centre hash(r) % CENTRES). */
function clustered(centres: Float32Array, dim: number, start: number, count: number, seed: number): Float32Array {
  const noise = uniform(count * dim, seed * 1_000_003 + start);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const c = (Math.imul(start + i, 2654435761) >>> 0) % CENTRES;
    for (let j = 0; j < dim; j++) out[i * dim + j] = centres[c * dim + j] + 0.35 * noise[i * dim + j];
  }
  return out;
}

const queriesFile = (d: string) => join(d, 'queries.f32');
const readF32 = async (f: string) => {
  const b = await readFile(f);
  const v = new Float32Array(b.length / 4);
  new Uint8Array(v.buffer).set(b);
  return v;
};

if (cmd === 'gen') {
  const [n, dim, shardRows, nq] = args.map(Number);
  await mkdir(dir, { recursive: true });
  const t = performance.now();
  const centres = uniform(CENTRES * dim, 1);
  const w = await EmbeddingsWriter.open(dir, { dim, shardRows, overwrite: true });
  const step = 65_536;
  for (let s = 0; s < n; s += step) {
    const count = Math.min(step, n - s);
    await w.add(Array.from({ length: count }, (_, i) => `p${s + i}`), clustered(centres, dim, s, count, 3));
  }
  await w.finish();
  await writeFile(queriesFile(dir), clustered(centres, dim, 0, nq, 2));
  console.log(JSON.stringify({ step: 'gen', n, dim, shardRows, nq, bytes: n * dim * 4, seconds: (performance.now() - t) / 1000 }));
} else if (cmd === 'exact') {
  const [k, threads] = args.slice(0, 2).map(Number);
  const backend = args[2] as 'faiss' | 'exact';
  const queries = await readF32(queriesFile(dir));
  const t = performance.now();
  const r = await searchEmbeddingShards(dir, queries, k, { index: { backend, threads } });
  const seconds = (performance.now() - t) / 1000;
  await writeFile(join(dir, `exact-ids-${backend}.i32`), new Uint8Array(r.hits.ids.buffer));
  const nq = r.hits.nq;
  console.log(JSON.stringify({ step: `exact-${backend}`, rows: r.size, shards: r.shards, nq, k, threads, seconds, qps: nq / seconds, peakResidentRows: r.peakResidentRows, description: r.description }));
} else if (cmd === 'ann') {
  const [k, threads] = args.slice(0, 2).map(Number);
  const kind = args[2] as 'ivfpq' | 'ivf' | 'hnsw';
  const [nlist, nprobe, pqM] = args.slice(3).map(Number);
  const m = await readEmbeddingsManifest(dir);
  const queries = await readF32(queriesFile(dir));
  let t = performance.now();
  const ann = await openAnnIndex(dir, { kind, nlist, nprobe, pqM, threads }, (msg) => console.error(msg));
  const buildSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const hits = searchAnn(ann, queries, k);
  const seconds = (performance.now() - t) / 1000;
  const exact = new Int32Array((await readFile(join(dir, 'exact-ids-faiss.i32'))).buffer.slice(0));
  let found = 0;
  for (let q = 0; q < hits.nq; q++) {
    const got = new Set(hits.ids.subarray(q * k, (q + 1) * k));
    for (const id of exact.subarray(q * k, (q + 1) * k)) if (got.has(id)) found++;
  }
  await writeFile(join(dir, `ann-ids-${kind}.i32`), new Uint8Array(hits.ids.buffer));
  console.log(JSON.stringify({ step: `ann-${kind}`, rows: m.count, factory: ann.spec.factory, nprobe: ann.spec.nprobe, trainRows: ann.spec.trainRows, reused: ann.reused, buildSeconds, nq: hits.nq, k, threads, seconds, qps: hits.nq / seconds, recall: found / (hits.nq * k) }));
} else {
  console.error('usage: dense-shards.ts gen DIR N DIM SHARD_ROWS NQ | exact DIR K THREADS faiss|exact | ann DIR K THREADS KIND NLIST NPROBE PQM');
  process.exit(2);
}
