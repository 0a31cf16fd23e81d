import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBm25Index } from '../../src/search/bm25/builder.ts';
import { Bm25Index } from '../../src/search/bm25/index.ts';
import { createWinkReference } from './_wink-reference.ts';
import { bm25Impact } from '../../src/search/bm25/format.ts';
import { Bm25Scorer } from '../../src/search/bm25/scorer.ts';
import { createAnalyzer, type AnalyzerConfig } from '../../src/text/analyzer.ts';
import { InputError } from '../../src/util/errors.ts';
import type { Passage } from '../../src/types.ts';
import { SHARED_DATA } from '../_paths.ts';
import { squadToDpr } from './_squad.ts';
import { zipfPassages, zipfQueries } from '../../bench/bm25-zipf.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-bm25-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const squad = squadToDpr(join(SHARED_DATA, 'squad_v1.1', 'dev-v1.1.json'), { articles: 12 });
const piaf = squadToDpr(join(SHARED_DATA, 'piaf', 'piaf-v1.1.json'), { articles: 60, dataset: 'piaf' });

/**
 * Parity: same length, scores within `tol` rank by rank, and where ids differ the scores tie
 * (within tol), so the rankings are identical up to ties.
 */
function assertSameRanking(ours: [string, number][], ref: [string, number][], query: string, tol = 1e-4): void {
  assert.equal(ours.length, ref.length, `hit count for "${query}"`);
  for (let i = 0; i < ours.length; i++) {
    assert.ok(Math.abs(ours[i][1] - ref[i][1]) <= tol, `"${query}" rank ${i}: score ${ours[i][1]} vs wink ${ref[i][1]}`);
    if (ours[i][0] !== ref[i][0]) {
      const refScore = ref.find(([id]) => id === ours[i][0])?.[1] ?? ref[ref.length - 1][1];
      assert.ok(Math.abs(refScore - ours[i][1]) <= tol, `"${query}" rank ${i}: ${ours[i][0]} vs wink ${ref[i][0]} is not a tie`);
    }
  }
}

async function parity(name: string, passages: Passage[], queries: string[], analyzer: Partial<AnalyzerConfig>, params = { k1: 1.2, b: 0.75 }, k = 20) {
  const dir = join(tmp, name);
  await buildBm25Index(passages, dir, { analyzer, ...params, segmentPostings: 5000 });
  const index = Bm25Index.open(dir);
  const ref = createWinkReference(passages, createAnalyzer(analyzer), params);
  let compared = 0;
  for (const q of queries) {
    const ours = index.search(q, k).map((h) => [index.pids.get(h.doc), h.score] as [string, number]);
    assertSameRanking(ours, ref.search(q, k), q);
    compared += ours.length;
  }
  index.close();
  assert.ok(compared > queries.length, 'queries found hits');
}

test('parity with wink-bm25-text-search: SQuAD v1.1 dev passages and questions, English analyzer', async () => {
  await parity('squad-en', squad.passages, squad.records.slice(0, 400).map((r) => r.question), { lang: 'en' });
});

test('parity with wink: PIAF (French) with the French analyzer, other k1/b', async () => {
  await parity('piaf-fr', piaf.passages, piaf.records.slice(0, 300).map((r) => r.question), { lang: 'fr' }, { k1: 0.9, b: 0.4 });
});

test('parity with wink: generated Zipf corpus, no stopwords or stemming, repeated query terms', async () => {
  const opts = { passages: 3000, vocabulary: 20000, seed: 3 };
  const queries = zipfQueries(opts, 150).map((q, i) => (i % 3 === 0 ? `${q} ${q.split(' ')[0]}` : q));
  await parity('zipf', [...zipfPassages(opts)], queries, { lang: 'none' }, { k1: 1.2, b: 0.75 }, 50);
});

test('index round trip: header, passages, ids and scores survive save/load; runs merge like one segment', async () => {
  const one = join(tmp, 'one');
  const many = join(tmp, 'many');
  const a = await buildBm25Index(squad.passages, one, { segmentPostings: 1 << 24 });
  const b = await buildBm25Index(squad.passages, many, { segmentPostings: 2000 });
  assert.equal(a.segments, 1);
  assert.ok(b.segments > 5, `expected several runs, got ${b.segments}`);
  for (const f of ['docs.u32', 'impacts.f32', 'offsets.f64', 'terms.txt', 'store.bin', 'ids.u32']) {
    assert.ok(readFileSync(join(one, f)).equals(readFileSync(join(many, f))), `${f} differs between 1 and ${b.segments} runs`);
  }
  const index = Bm25Index.open(many);
  assert.equal(index.header.docs, squad.passages.length);
  assert.equal(index.header.k1, 1.2);
  assert.deepEqual(index.header.analyzer, { lang: 'en', stopwords: true, stem: true });
  for (const i of [0, 17, squad.passages.length - 1]) {
    assert.deepEqual(index.passage(i), squad.passages[i]);
    assert.equal(index.docOf(squad.passages[i].passage_id), i);
  }
  assert.equal(index.docOf('no-such-passage'), undefined);
  // One posting checked against the formula by hand.
  const analyzer = createAnalyzer();
  const p0 = squad.passages[0];
  const terms = [...analyzer.analyze(p0.title), ...analyzer.analyze(p0.text)];
  const term = terms[3];
  const tf = terms.filter((t) => t === term).length;
  const df = squad.passages.filter((p) => [...analyzer.analyze(p.title), ...analyzer.analyze(p.text)].includes(term)).length;
  const expected = bm25Impact(tf, terms.length, df, index.header.docs, index.header.avgdl, index.header);
  const hit = index.search({ ids: Uint32Array.of(index.termId(term)!), weights: Float64Array.of(1) }, squad.passages.length).find((h) => h.doc === 0);
  assert.ok(hit && Math.abs(hit.score - expected) < 1e-5, `${hit?.score} vs ${expected}`);
  index.close();
});

test('ties are broken by corpus order, and k larger than the matches returns all matches', async () => {
  const passages = ['alpha beta', 'alpha beta', 'gamma', 'alpha beta', 'delta'].map((text, i) => ({ passage_id: `d${i}`, title: '', text }));
  const dir = join(tmp, 'ties');
  await buildBm25Index(passages, dir, { analyzer: { lang: 'none' } });
  const index = Bm25Index.open(dir);
  const hits = index.search('alpha', 10);
  assert.deepEqual(hits.map((h) => h.doc), [0, 1, 3]);
  assert.equal(hits[0].score, hits[2].score);
  assert.deepEqual(index.search('unknownterm', 10), []);
  index.close();
});

test('bad corpus: empty corpus and duplicated passage ids are errors naming the problem; nothing is left behind', async () => {
  const dir = join(tmp, 'bad');
  await assert.rejects(buildBm25Index([], dir, { sourceFile: 'empty.jsonl' }), (e: unknown) => e instanceof InputError && /no passages/.test(e.message) && e.file === 'empty.jsonl');
  const dup = [
    { passage_id: 'a', title: '', text: 'one' },
    { passage_id: 'b', title: '', text: 'two' },
    { passage_id: 'a', title: '', text: 'three' },
  ];
  await assert.rejects(buildBm25Index(dup, dir, { sourceFile: 'dup.jsonl' }), (e: unknown) => e instanceof InputError && e.record === 'passage 3' && e.field === 'passage_id' && /"a" already used by passage 1/.test(e.message));
  assert.equal(existsSync(dir), false);
  assert.throws(() => Bm25Index.open(dir), /not a dprep BM25 index/);
});

test('MaxScore pruning returns exactly the exhaustive top k (same docs, same order, same scores)', async () => {
  const opts = { passages: 4000, vocabulary: 30000, seed: 5 };
  const dir = join(tmp, 'maxscore');
  await buildBm25Index(zipfPassages(opts), dir, { analyzer: { lang: 'none' } });
  const index = Bm25Index.open(dir);
  const scorer = new Bm25Scorer(index.arrays);
  for (const [i, text] of zipfQueries(opts, 300).entries()) {
    const q = index.toTermQuery(text + (i % 4 === 0 ? ' ' + text.split(' ')[1] : ''));
    for (const k of [1, 10, 100]) {
      const fast = scorer.topK(q, k);
      const full = scorer.topKExhaustive(q, k);
      assert.deepEqual(Array.from(fast.docs), Array.from(full.docs), `query ${i} k ${k}`);
      assert.deepEqual(Array.from(fast.scores), Array.from(full.scores), `query ${i} k ${k}`);
    }
  }
  assert.ok(scorer.prunedQueries > 300, `pruning was exercised (${scorer.prunedQueries} of 900 searches)`);
  index.close();
});

test('index files are byte-identical whatever the analysis thread count (0, 1, 2 workers; small batches, several runs)', async () => {
  // SQuAD (titles, stemming, stopwords) and PIAF (French, non-ASCII) in one corpus.
  const passages = [...squad.passages, ...piaf.passages.slice(0, 1500)];
  const builds = [];
  for (const threads of [0, 1, 2]) {
    const dir = join(tmp, `threads-${threads}`);
    builds.push({ dir, threads, stats: await buildBm25Index(passages, dir, { threads, batchSize: 37, segmentPostings: 8000 }) });
  }
  assert.ok(builds[0].stats.segments > 3, `expected several runs, got ${builds[0].stats.segments}`);
  for (const f of ['terms.txt', 'offsets.f64', 'docs.u32', 'impacts.f32', 'maximp.f32', 'doclen.u32', 'store.bin', 'store.f64', 'pids.bin', 'pids.f64', 'ids.u32', 'header.json']) {
    const reference = readFileSync(join(builds[0].dir, f));
    for (const b of builds.slice(1)) assert.ok(reference.equals(readFileSync(join(b.dir, f))), `${f} differs between 0 and ${b.threads} worker threads`);
  }
  const index = Bm25Index.open(builds[2].dir);
  assert.equal(index.header.docs, passages.length);
  assert.deepEqual(index.passage(passages.length - 1), passages[passages.length - 1]);
  index.close();
});

test('a build worker failure (duplicate id found after analysis) still cleans up and rejects', async () => {
  const dup = Array.from({ length: 300 }, (_, i) => ({ passage_id: i === 250 ? 'p3' : `p${i}`, title: '', text: `word${i % 7} text` }));
  const dir = join(tmp, 'dup-threads');
  await assert.rejects(buildBm25Index(dup, dir, { threads: 2, batchSize: 16 }), (e: unknown) => e instanceof InputError && e.record === 'passage 251');
  assert.equal(existsSync(dir), false);
});
