/**
 * What checking an index on open costs (issue 15): Bm25Index.open with every file's sha256
 * verified (the default) vs sizes only (`verify: false`), on a synthetic Zipf corpus.
 * Usage: node --import tsx bench/bm25-open-verify.ts [passages=200000] [rounds=5] [dir]
 * Builds the index into `dir` (default: a temp dir, removed after) unless one is already there.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { buildBm25Index } from '../src/search/bm25/builder.ts';
import { Bm25Index } from '../src/search/bm25/index.ts';
import { zipfPassages } from './bm25-zipf.ts';

const passages = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const given = process.argv[4];
const root = given ?? mkdtempSync(join(tmpdir(), 'dprep-bm25-open-'));
const dir = join(root, `zipf-${passages}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
if (!existsSync(join(dir, 'header.json'))) {
  const t0 = performance.now();
  await buildBm25Index(zipfPassages({ passages }), dir, { analyzer: { lang: 'none' } });
  console.log(`built ${passages} passages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
const time = (verify: boolean) => {
  const t0 = performance.now();
  Bm25Index.open(dir, { verify }).close();
  return performance.now() - t0;
};
time(true); // warm the page cache
const runs: Record<'verify' | 'sizes', number[]> = { verify: [], sizes: [] };
for (let r = 0; r < rounds; r++) {
  runs.sizes.push(time(false));
  runs.verify.push(time(true));
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const [v, s] = [median(runs.verify), median(runs.sizes)];
console.log(`index: ${(bytes / 2 ** 20).toFixed(1)} MiB in ${readdirSync(dir).length} files`);
console.log(`open, sizes only: median ${s.toFixed(0)} ms of ${rounds}; with sha256 of every file: median ${v.toFixed(0)} ms (${(v / s).toFixed(2)}x, ${((bytes / 2 ** 20) / ((v - s) / 1000)).toFixed(0)} MiB/s hashed)`);
if (!given) rmSync(root, { recursive: true, force: true });
