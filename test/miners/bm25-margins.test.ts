import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mineBm25, type MineBm25Options } from '../../src/miners/bm25.ts';
import type { DprRecord } from '../../src/types.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-bm25-margins-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Every passage has 4 words, so BM25's length norm is 1 and a term matched once adds exactly its idf:
// tf·(k1 + 1) / (tf + k1) = 1. N = 6; df(alpha) = 3, df(beta) = df(gamma) = 2.
const passages = [
  { passage_id: 'p0', title: 't', text: 'alpha beta zeta eta' },
  { passage_id: 'n1', title: 't', text: 'alpha beta gamma kappa' },
  { passage_id: 'n2', title: 't', text: 'gamma nu xi omicron' },
  { passage_id: 'n3', title: 't', text: 'alpha lambda mu rho' },
  { passage_id: 'n4', title: 't', text: 'pi sigma tau upsilon' },
  { passage_id: 'n5', title: 't', text: 'phi chi psi omega' },
];
const idf = (df: number) => Math.log(1 + (6 - df + 0.5) / (df + 0.5));
const SCORE = { p0: idf(3) + idf(2), n1: idf(3) + 2 * idf(2), n2: idf(2), n3: idf(3) }; // 1.7228, 2.7524, 1.0296, 0.6931
const ctx = (id: string) => ({ ...passages.find((p) => p.passage_id === id)! });
const record = (positives: string[]): DprRecord => ({ dataset: 'test', question: 'alpha beta gamma', answers: ['zzz'], positive_ctxs: positives.map(ctx), negative_ctxs: [], hard_negative_ctxs: [] });

const corpus = join(tmp, 'corpus.jsonl');
writeFileSync(corpus, passages.map((p) => JSON.stringify(p)).join('\n') + '\n');

async function mine(name: string, records: DprRecord[], extra: Partial<MineBm25Options>) {
  const examples = join(tmp, `${name}.dpr.json`);
  writeFileSync(examples, JSON.stringify(records));
  const out = join(tmp, `${name}.out.json`);
  const report = await mineBm25({
    examples, corpus, out, depth: 10, negatives: 10, strategy: 'top', seed: 1, match: 'string', checkTitle: false, threads: 1,
    analyzer: { lang: 'en', stopwords: false, stem: false }, ...extra,
  });
  const mined = JSON.parse(readFileSync(out, 'utf8')) as DprRecord[];
  return { report, negatives: mined.map((r) => r.hard_negative_ctxs.map((c) => [c.passage_id, c.score])) };
}

test('BM25 margins, hand-computed: a negative above the positive\'s margin is dropped, one below is kept; counted', async () => {
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;
  // --max-score-margin 0: ceiling = pos = 1.7228 → n1 (2.7524) dropped; n2 (1.0296) and n3 (0.6931) kept.
  const m0 = await mine('margin0', [record(['p0'])], { maxScoreMargin: 0 });
  assert.deepEqual(m0.negatives[0].map(([id]) => id), ['n2', 'n3']);
  assert.ok(close(m0.negatives[0][0][1] as number, SCORE.n2) && close(m0.negatives[0][1][1] as number, SCORE.n3), JSON.stringify(m0.negatives));
  assert.equal(m0.report.filters.margin, 1);
  assert.equal(m0.report.filters.positive, 1);
  assert.equal(m0.report.perRecord[0].margin, 1);
  // --max-score-ratio 0.5: ceiling = pos − 0.5·|pos| = 0.8614 → n1 and n2 dropped, n3 kept.
  assert.ok(SCORE.n3 < SCORE.p0 * 0.5 && SCORE.n2 > SCORE.p0 * 0.5);
  const r5 = await mine('ratio05', [record(['p0'])], { maxScoreRatio: 0.5 });
  assert.deepEqual(r5.negatives[0].map(([id]) => id), ['n3']);
  assert.equal(r5.report.filters.margin, 2);
  assert.equal(r5.report.settings.maxScoreRatio, 0.5);
  // Against every positive: with n3 (0.6931) a positive too, the lowest bounds them all (n1, n2 dropped).
  const every = await mine('every', [record(['p0', 'n3'])], { maxScoreMargin: 0 });
  assert.deepEqual(every.negatives[0], []);
  assert.equal(every.report.filters.margin, 2);
  // No margin: everything but the positive is kept (the filter is not on by default).
  const none = await mine('none', [record(['p0'])], {});
  assert.deepEqual(none.negatives[0].map(([id]) => id), ['n1', 'n2', 'n3']);
  assert.equal(none.report.filters.margin, 0);
});

test('BM25 margins: positives outside the top --depth are still scored (and the same with worker threads)', async () => {
  // depth 1 retrieves only n1; p0 is not among the hits, yet its score (1.7228) bounds n1 (2.7524) out.
  for (const threads of [1, 2]) {
    const r = await mine(`absent${threads}`, [record(['p0']), record(['p0'])], { depth: 1, maxScoreMargin: 0, threads });
    assert.deepEqual(r.negatives, [[], []], `threads ${threads}`);
    assert.equal(r.report.filters.hits, 2);
    assert.equal(r.report.filters.positive, 0, 'the positive was not retrieved');
    assert.equal(r.report.filters.margin, 2);
  }
  // Depth 3 retrieves n1, p0, n2; a margin of 1.1 puts the ceiling at 0.6228, below both negatives.
  const wide = await mine('wide', [record(['p0'])], { depth: 3, maxScoreMargin: 1.1 });
  assert.deepEqual(wide.negatives[0], []);
  assert.equal(wide.report.filters.margin, 2); // n1 and n2; p0 (rank 1) counted as positive
});
