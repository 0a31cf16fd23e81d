import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mineDense, type DenseMiningOptions } from '../../src/miners/dense.ts';
import { NO_ANSWERS_NOTE } from '../../src/miners/filter.ts';
import { encodeCorpus } from '../../src/search/vector/encode.ts';
import { readCorpus } from '../../src/io/corpus.ts';
import { hasAnswer } from '../../src/text/answer.ts';
import { exactSearch } from '../../src/search/vector/exact.ts';
import { loadFaiss } from '../../src/search/vector/faiss.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { FIXTURES } from '../_paths.ts';
import { fakeEncoder } from '../search/_fake-encoder.ts';
import { assertHistogramOf } from './_histogram.ts';

// Real SQuAD text: one passage per paragraph of the fixture, each question's paragraph its positive.
const squad = JSON.parse(await readFile(join(FIXTURES, 'quickstart/squad-mini-train.json'), 'utf8'));
const passages: Passage[] = [];
const records: DprRecord[] = [];
for (const article of squad.data) {
  for (const para of article.paragraphs) {
    const passage = { passage_id: `p${passages.length}`, title: article.title, text: para.context };
    passages.push(passage);
    for (const qa of para.qas.slice(0, 2)) {
      records.push({ dataset: 'squad1', question: qa.question, answers: qa.answers.map((a: { text: string }) => a.text), positive_ctxs: [passage], negative_ctxs: [], hard_negative_ctxs: [], id: qa.id });
    }
  }
}
// Two records that cannot be mined, to be skipped with reasons.
records.push({ ...records[0], question: 'no positive?', positive_ctxs: [] });
records.push({ ...records[1], question: 'empty answer?', answers: [' '] });

const dir = await mkdtemp(join(tmpdir(), 'dprep-dense-'));
const corpusFile = join(dir, 'corpus.jsonl');
const examplesFile = join(dir, 'train.jsonl');
await writeFile(corpusFile, passages.map((p) => JSON.stringify(p)).join('\n') + '\n');
await writeFile(examplesFile, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
const encoder = fakeEncoder(64);
await encodeCorpus(readCorpus(corpusFile), encoder, join(dir, 'emb'), { batchSize: 32, shardRows: 40 });

const base = (out: string, over: Partial<DenseMiningOptions> = {}): DenseMiningOptions => ({
  examples: examplesFile, corpus: corpusFile, embeddings: join(dir, 'emb'), out: join(dir, out), queryEncoder: encoder,
  depth: 30, negatives: 5, skipTop: 2, maxScoreRatio: 0.95, strategy: 'top', seed: 7, match: 'string', checkTitle: false,
  keepExisting: false, index: { backend: 'exact' }, log: () => {}, ...over,
});
const readOut = async (file: string): Promise<DprRecord[]> => (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));

test('re-mined negatives obey the answer filter, positive exclusion, rank window and margin', async () => {
  const { summary, counts } = await mineDense(base('mined.jsonl'));
  const out = await readOut(join(dir, 'mined.jsonl'));
  assert.equal(out.length, records.length - 2);
  assert.equal(summary.read, records.length);
  assert.equal(summary.skipped.get('no positive_ctxs'), 1);
  assert.ok([...summary.skipped.keys()].some((k) => k.startsWith('no usable answer')));
  // Reference ranking, recomputed here from scratch.
  const pv = await encoder.encode(passages.map((p) => ({ text: p.text, title: p.title })));
  for (const r of out) {
    const qv = await encoder.encode([{ text: r.question }]);
    const hits = exactSearch(pv, 64, qv, 30);
    const rankOf = (id: string) => [...hits.ids].findIndex((row) => passages[row].passage_id === id);
    const goldRow = passages.findIndex((p) => p.passage_id === r.positive_ctxs[0].passage_id);
    let gold = 0;
    for (let j = 0; j < 64; j++) gold += qv[j] * pv[goldRow * 64 + j];
    assert.ok(r.hard_negative_ctxs.length <= 5);
    for (const neg of r.hard_negative_ctxs) {
      assert.ok(!hasAnswer(r.answers, neg.text), `negative holds an answer: ${r.question}`);
      assert.ok(!r.positive_ctxs.some((p) => p.passage_id === neg.passage_id), 'negative is a positive');
      assert.ok(rankOf(neg.passage_id) >= 2, 'negative inside the skipped top ranks');
      assert.ok(neg.score! <= 0.95 * gold + 1e-6, 'negative above the score margin');
    }
  }
  // Every hit is accounted for by exactly one filter or kept (kept ≤ what survived the filters).
  const removed = counts.positive + counts.answer + counts.skipTop + counts.margin + counts.duplicate;
  assert.ok(removed + counts.kept <= counts.hits);
  assert.ok(counts.answer > 0 && counts.skipTop > 0 && counts.positive > 0, JSON.stringify(counts));
  assert.equal(summary.extra.get('hits retrieved'), counts.hits);
});

test('<out>.mining.json: the positives\' and kept negatives\' dense scores, binned as recomputed here; answer-bearing hits counted', async () => {
  const { counts, scores } = await mineDense(base('hist.jsonl', { skipTop: 0, maxScoreRatio: undefined }));
  const saved = JSON.parse(await readFile(join(dir, 'hist.jsonl.mining.json'), 'utf8'));
  assert.deepEqual(saved.scores, scores);
  assert.deepEqual(saved.filters, counts);
  const out = await readOut(join(dir, 'hist.jsonl'));
  const pv = await encoder.encode(passages.map((p) => ({ text: p.text, title: p.title })));
  const positive: number[] = [];
  let above = 0;
  for (const r of out) {
    const qv = await encoder.encode([{ text: r.question }]);
    const row = passages.findIndex((p) => p.passage_id === r.positive_ctxs[0].passage_id);
    let gold = 0;
    for (let j = 0; j < 64; j++) gold += qv[j] * pv[row * 64 + j];
    positive.push(Math.fround(gold));
    above += r.hard_negative_ctxs.filter((c) => c.score! >= Math.fround(gold)).length;
  }
  assertHistogramOf(scores, { positive, negative: out.flatMap((r) => r.hard_negative_ctxs.map((c) => c.score!)) });
  assert.equal(scores.totals.answer, counts.answer);
  assert.ok(counts.answer > 0);
  assert.equal(scores.negativesAbovePositive, above);
});

test('records without answers (MS MARCO: answers []) are mined with positives excluded by id, and counted', async () => {
  const noAnswers = join(dir, 'noanswers.jsonl');
  const input = records.slice(0, 10).map((r) => ({ ...r, answers: [] }));
  await writeFile(noAnswers, input.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const { summary, counts } = await mineDense(base('noanswers.out.jsonl', { examples: noAnswers, skipTop: 0, maxScoreRatio: undefined }));
  assert.equal(summary.skippedTotal, 0);
  assert.equal(summary.extra.get(NO_ANSWERS_NOTE), 10);
  assert.equal(counts.answer, 0);
  assert.ok(counts.positive > 0, JSON.stringify(counts));
  const out = await readOut(join(dir, 'noanswers.out.jsonl'));
  assert.equal(out.length, 10);
  for (const r of out) {
    assert.equal(r.hard_negative_ctxs.length, 5);
    for (const neg of r.hard_negative_ctxs) assert.ok(!r.positive_ctxs.some((p) => p.passage_id === neg.passage_id), 'negative is a positive');
  }
});

test('random sampling is seeded: same seed same output, other seed other output', async () => {
  await mineDense(base('a.jsonl', { strategy: 'random', seed: 1 }));
  await mineDense(base('b.jsonl', { strategy: 'random', seed: 1 }));
  await mineDense(base('c.jsonl', { strategy: 'random', seed: 2 }));
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => readFile(join(dir, `${n}.jsonl`), 'utf8')));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('random sampling: splitting the examples into files gives the same records (stream keyed by record id)', async () => {
  const cut = 23;
  await writeFile(join(dir, 'head.jsonl'), records.slice(0, cut).map((r) => JSON.stringify(r)).join('\n') + '\n');
  await writeFile(join(dir, 'tail.jsonl'), records.slice(cut).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const random = { strategy: 'random' as const, seed: 1, negatives: 3 };
  await mineDense(base('split-whole.jsonl', random));
  await mineDense(base('split-head.jsonl', { ...random, examples: join(dir, 'head.jsonl') }));
  await mineDense(base('split-tail.jsonl', { ...random, examples: join(dir, 'tail.jsonl') }));
  const [whole, head, tail, top] = await Promise.all(['split-whole', 'split-head', 'split-tail'].map((n) => readFile(join(dir, `${n}.jsonl`), 'utf8')).concat([mineDense(base('split-top.jsonl', { ...random, strategy: 'top' })).then(() => readFile(join(dir, 'split-top.jsonl'), 'utf8'))]));
  assert.equal(head + tail, whole);
  assert.notEqual(top, whole, 'the random sample is not the top survivors');
});

test('keep-existing appends dense negatives after the existing ones, without duplicates', async () => {
  const withBm25 = join(dir, 'bm25.jsonl');
  const seeded = records.slice(0, 4).map((r) => ({ ...r, hard_negative_ctxs: [passages[100 % passages.length]] }));
  await writeFile(withBm25, seeded.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await mineDense(base('kept.jsonl', { examples: withBm25, keepExisting: true }));
  for (const r of await readOut(join(dir, 'kept.jsonl'))) {
    assert.equal(r.hard_negative_ctxs[0].passage_id, passages[100 % passages.length].passage_id);
    assert.equal(new Set(r.hard_negative_ctxs.map((c) => c.passage_id)).size, r.hard_negative_ctxs.length);
  }
});

test('faiss and exact search mine the same negatives', { skip: loadFaiss() ? false : 'faiss-node not built' }, async () => {
  await mineDense(base('exact.jsonl'));
  await mineDense(base('faiss.jsonl', { index: { backend: 'faiss' } }));
  const strip = (rs: DprRecord[]) => rs.map((r) => r.hard_negative_ctxs.map((c) => c.passage_id));
  assert.deepEqual(strip(await readOut(join(dir, 'faiss.jsonl'))), strip(await readOut(join(dir, 'exact.jsonl'))));
});
