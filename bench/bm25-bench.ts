/**
 * BM25 benchmark pieces, each run as its own process by bench/bm25-run.sh (so /usr/bin/time gives
 * each one's peak RSS):
 *   gen   N Q DIR                 Zipf corpus (DIR/corpus-N.jsonl) and Q queries (DIR/queries-N-Q.tsv)
 *   query INDEX QUERIES K THREADS dprep: load the index, then time only the queries; JSON line out
 *   wink  CORPUS QUERIES K [MAX]  wink-bm25-text-search: build + query (first MAX queries) in one process
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { zipfPassages, zipfQueries } from './bm25-zipf.ts';
import { Bm25Index } from '../src/search/bm25/index.ts';
import { startBm25Runner } from '../src/search/bm25/pool.ts';
import { Bm25Scorer } from '../src/search/bm25/scorer.ts';
import { createWinkReference } from '../test/search/_wink-reference.ts';
import { createAnalyzer } from '../src/text/analyzer.ts';
import { readCorpus } from '../src/io/corpus.ts';
import type { Passage } from '../src/types.ts';

const [cmd, ...args] = process.argv.slice(2);
const readQueries = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]);

if (cmd === 'gen') {
  const [n, q, dir] = [Number(args[0]), Number(args[1]), args[2]];
  const opts = { passages: n, vocabulary: 200_000, seed: 7 };
  const out = createWriteStream(join(dir, `corpus-${n}.jsonl`));
  for (const p of zipfPassages(opts)) if (!out.write(JSON.stringify(p) + '\n')) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  const queries = zipfQueries(opts, q);
  createWriteStream(join(dir, `queries-${n}-${q}.tsv`)).end(queries.map((text, i) => `q${i}\t${text}`).join('\n') + '\n');
} else if (cmd === 'query') {
  const [dir, queriesFile, k, threads] = [args[0], args[1], Number(args[2]), Number(args[3])];
  let t = performance.now();
  const index = Bm25Index.open(dir, { shared: threads > 1 });
  const queries = readQueries(queriesFile);
  const termQueries = queries.map((q) => index.toTermQuery(q));
  const runner = await startBm25Runner(index, threads);
  // Warm the JIT in every worker (same warm-up for any thread count): 100 queries per thread.
  await Promise.all(Array.from({ length: threads }, (_, i) => runner.search(termQueries.slice(i * 100, (i + 1) * 100).map((query) => ({ query, k })))));
  const loadSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const batches = [];
  for (let i = 0; i < termQueries.length; i += 32) batches.push(runner.search(termQueries.slice(i, i + 32).map((query) => ({ query, k }))));
  const results = (await Promise.all(batches)).flat();
  const querySeconds = (performance.now() - t) / 1000;
  await runner.close();
  // How often MaxScore skipped long lists (one in-process pass over the queries).
  const scorer = new Bm25Scorer(index.arrays);
  for (const q of termQueries) scorer.topK(q, k);
  console.log(JSON.stringify({ engine: 'dprep', threads, queries: queries.length, loadSeconds, querySeconds, qps: queries.length / querySeconds, hits: results.reduce((n, r) => n + r.passageIds.length, 0), pruned: scorer.prunedQueries }));
} else if (cmd === 'wink') {
  const [corpus, queriesFile, k] = [args[0], args[1], Number(args[2])];
  let t = performance.now();
  const passages: Passage[] = [];
  for await (const p of readCorpus(corpus)) passages.push(p);
  const ref = createWinkReference(passages, createAnalyzer({ lang: 'none' }), { k1: 1.2, b: 0.75 }, { precision: 4 });
  const buildSeconds = (performance.now() - t) / 1000;
  const queries = readQueries(queriesFile).slice(0, args[3] ? Number(args[3]) : undefined);
  t = performance.now();
  let hits = 0;
  for (const q of queries) hits += ref.search(q, k).length;
  const querySeconds = (performance.now() - t) / 1000;
  console.log(JSON.stringify({ engine: 'wink', threads: 1, queries: queries.length, buildSeconds, querySeconds, qps: queries.length / querySeconds, hits }));
} else {
  console.error('usage: bm25-bench.ts gen N Q DIR | query INDEX QUERIES K THREADS | wink CORPUS QUERIES K');
  process.exit(2);
}
