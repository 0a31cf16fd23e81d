/**
 * Index + search of N float32 vectors (dim 768) with 1,000 queries, top-100, side by side with
 * Python faiss IndexFlatIP on the same vectors and threads (bench/faiss-peer.py, Debian python3-faiss).
 * Usage: nice node --import tsx bench/faiss-search.ts [N=100000] [threads=2] [--no-stock]
 * (--no-stock skips the stock JS-array API, which at 1M vectors takes ~15 minutes of conversion.)
 * Vectors are written once to .bench-data/ so both sides read identical bytes.
 */
import { mkdir, open, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadFaiss } from '../src/search/vector/faiss.ts';
import { createVectorIndex } from '../src/search/vector/index.ts';

const n = Number(process.argv[2] ?? 100_000);
const threads = Number(process.argv[3] ?? 2);
const dim = 768, nq = 1000, k = 100;
const dataDir = join(import.meta.dirname, '..', '.bench-data');
const base = join(dataDir, `base-${n}x${dim}.f32`);
const queriesFile = join(dataDir, `queries-${nq}x${dim}.f32`);

function randomFloats(count: number, seed: number): Float32Array {
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
await mkdir(dataDir, { recursive: true });
if (!existsSync(base)) await writeFile(base, randomFloats(n * dim, 1));
if (!existsSync(queriesFile)) await writeFile(queriesFile, randomFloats(nq * dim, 2));
// Read straight into the Float32Array (readFile stops at 2 GiB; 1M × 768 floats is 3 GB).
const load = async (f: string) => {
  const fh = await open(f, 'r');
  const { size } = await fh.stat();
  const v = new Float32Array(size / 4);
  const bytes = new Uint8Array(v.buffer);
  for (let off = 0; off < size; ) off += (await fh.read(bytes, off, Math.min(1 << 30, size - off), off)).bytesRead;
  await fh.close();
  return v;
};
const vectors = await load(base);
const queries = await load(queriesFile);

const faiss = loadFaiss();
if (!faiss) throw new Error('build the addon first: scripts/build-faiss-node.sh');
faiss.addon.setThreads?.(threads);
const time = async <T>(f: () => T | Promise<T>): Promise<[T, number]> => { const t = performance.now(); const r = await f(); return [r, (performance.now() - t) / 1000]; };

// dprep's path: Float32Array straight into faiss.
const index = createVectorIndex(dim, { backend: 'faiss', threads });
const [, addS] = await time(() => index.add(vectors));
const [hits, searchS] = await time(() => index.search(queries, k));
console.log(JSON.stringify({ side: 'dprep faiss-node (typed arrays)', n, threads, add_s: addS, search_s: searchS, total_s: addS + searchS }));

// The stock faiss-node API: JS number arrays, converted per element inside the addon.
let convAddS = NaN, convSearchS = NaN, same: boolean | null = null;
if (!process.argv.includes('--no-stock')) {
  const stock = new faiss.addon.IndexFlatIP(dim);
  [, convAddS] = await time(() => { for (let i = 0; i < n; i += 10_000) stock.add(Array.from(vectors.subarray(i * dim, Math.min(i + 10_000, n) * dim))); });
  let stockRes: { labels: ArrayLike<number> };
  [stockRes, convSearchS] = await time(() => stock.search(Array.from(queries), k));
  console.log(JSON.stringify({ side: 'stock faiss-node API (JS arrays)', n, threads, add_s: convAddS, search_s: convSearchS, total_s: convAddS + convSearchS }));
  same = Array.from(stockRes.labels).every((l, i) => l === hits.ids[i]);
}

const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'faiss-peer.py'), base, queriesFile, String(dim), String(k), String(threads)], { encoding: 'utf8' });
if (py.status !== 0) throw new Error(py.stderr);
const peer = JSON.parse(py.stdout.trim().split('\n').pop()!);
console.log(JSON.stringify(peer));
const pyTotal = peer.add_s + peer.search_s;
const pyIds = new Int32Array((await readFile(peer.ids_file)).buffer.slice(0));
let agree = 0;
for (let i = 0; i < pyIds.length; i++) if (pyIds[i] === hits.ids[i]) agree++;
console.log(JSON.stringify({ ratio_dprep_vs_python: (addS + searchS) / pyTotal, ratio_stock_vs_python: (convAddS + convSearchS) / pyTotal, same_ids_as_python: agree / pyIds.length, stock_same_as_typed: same }));
