// mine positives: DPR's recipe for QA pairs without passages, on real NQ / NQ-open / CuratedTREC
// questions against real psgs_w100 passages (the Haystack DPR sample's ctxs + pyserini's 100).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { minePositives, type MinePositivesOptions } from '../../src/miners/positives.ts';
import { convertNq } from '../../src/converters/nq.ts';
import { buildIndexFromCorpus } from '../../src/search/bm25/builder.ts';
import { Bm25Index } from '../../src/search/bm25/index.ts';
import { readCorpus } from '../../src/io/corpus.ts';
import { formatTsvField } from '../../src/io/tsv.ts';
import { hasAnswer, type MatchMode } from '../../src/text/answer.ts';
import { Summary } from '../../src/util/summary.ts';
import type { DprRecord } from '../../src/types.ts';
import { CLI, SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const dir = mkdtempSync(join(tmpdir(), 'dprep-positives-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sample: DprRecord[] = JSON.parse(readFileSync(join(SHARED_DATA, 'nq/dpr_biencoder/haystack_dpr_sample.json'), 'utf8'));

// Corpus: every distinct passage of the sample, then pyserini's 100, as a headerless id,title,text TSV
// (OpenMatch's layout: read only because --columns declares it).
const CORPUS = join(dir, 'psgs.tsv');
const corpusRows = new Map<string, { title: string; text: string }>();
for (const r of sample) for (const c of [...r.positive_ctxs, ...r.negative_ctxs, ...r.hard_negative_ctxs]) if (!corpusRows.has(c.passage_id)) corpusRows.set(c.passage_id, c);
for await (const p of readCorpus(join(SHARED_DATA, 'wikipedia_psgs_w100/psgs_w100_pyserini_100.jsonl'))) if (!corpusRows.has(p.passage_id)) corpusRows.set(p.passage_id, p);
writeFileSync(CORPUS, [...corpusRows].map(([id, p]) => [id, p.title, p.text].map(formatTsvField).join('\t') + '\n').join(''));
const INDEX = join(dir, 'psgs.bm25');
await buildIndexFromCorpus(CORPUS, INDEX, { columns: 'id,title,text' }, () => {});

function jsonl(records: readonly DprRecord[], name: string): string {
  const f = join(dir, name);
  writeFileSync(f, records.map((r) => JSON.stringify(r) + '\n').join(''));
  return f;
}
const readJsonl = (f: string): DprRecord[] => readFileSync(f, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));

const base = (examples: string, out: string, extra: Partial<MinePositivesOptions> = {}): MinePositivesOptions => ({
  examples, corpus: CORPUS, corpusColumns: 'id,title,text', index: INDEX, out, depth: 100, positives: 1, negatives: 5,
  strategy: 'top', seed: 13, match: 'string', checkTitle: false, threads: 1, ...extra,
});

/** Checks DPR's rule against an independent search of the same index: positives = first answer-bearing hits. */
function checkAgainstSearch(records: DprRecord[], mode: MatchMode, depth: number, positives: number, negatives: number) {
  const index = Bm25Index.open(INDEX);
  try {
    for (const r of records) {
      const hits = index.search(r.question, depth).map((h) => ({ ...index.passage(h.doc), score: h.score }));
      const bearing = hits.filter((p) => hasAnswer(r.answers, p.text, mode));
      assert.deepEqual(r.positive_ctxs.map((c) => c.passage_id), bearing.slice(0, positives).map((p) => p.passage_id), r.question);
      assert.equal(r.positive_ctxs[0].score, bearing[0].score);
      const ids = hits.map((p) => p.passage_id);
      const ranks = r.hard_negative_ctxs.map((c) => ids.indexOf(c.passage_id));
      assert.ok(ranks.every((x) => x >= 0), 'negatives come from the top --depth');
      assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), 'negatives best first');
      assert.ok(r.hard_negative_ctxs.length <= negatives);
      for (const c of r.hard_negative_ctxs) assert.ok(!hasAnswer(r.answers, c.text, mode), `${r.question}: negative ${c.passage_id} holds an answer`);
    }
  } finally {
    index.close();
  }
}

test('DPR NQ dev sample, positives removed: the highest-ranked answer-bearing BM25 passage comes back as the positive', async () => {
  const stripped = sample.map((r) => ({ ...r, positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] }));
  const out = join(dir, 'nq.pos.jsonl');
  const { summary, filters } = await minePositives(base(jsonl(stripped, 'nq.jsonl'), out));
  const records = readJsonl(out);
  assert.equal(summary.read, 5);
  assert.equal(records.length + summary.skippedTotal, 5);
  assert.ok(records.length >= 4, `most sample questions find an answer-bearing passage (${records.length})`);
  assert.equal(filters.positive, records.length, 'one positive each (DPR)');
  checkAgainstSearch(records, 'string', 100, 1, 5);
  // DPR's own gold passage is retrievable for "who sings does he love me with reba".
  assert.equal(records.find((r) => r.question.startsWith('who sings'))!.positive_ctxs[0].passage_id, '11828866');
});

test('--positives 3 takes the three best answer-bearing hits; threads do not change the output', async () => {
  const stripped = sample.map((r) => ({ ...r, positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] }));
  const ex = jsonl(stripped, 'nq3.jsonl');
  const one = join(dir, 'nq3.t1.jsonl');
  const two = join(dir, 'nq3.t2.jsonl');
  await minePositives(base(ex, one, { positives: 3, strategy: 'random' }));
  await minePositives(base(ex, two, { positives: 3, strategy: 'random', threads: 2 }));
  assert.equal(readFileSync(two, 'utf8'), readFileSync(one, 'utf8'));
  const records = readJsonl(one);
  assert.ok(records.some((r) => r.positive_ctxs.length > 1), 'some question has several answer-bearing hits');
  const index = Bm25Index.open(INDEX);
  try {
    for (const r of records) {
      const bearing = index.search(r.question, 100).map((h) => index.passage(h.doc)).filter((p) => hasAnswer(r.answers, p.text));
      assert.deepEqual(r.positive_ctxs.map((c) => c.passage_id), bearing.slice(0, 3).map((p) => p.passage_id));
    }
  } finally {
    index.close();
  }
});

test('NQ-open dev through convert nq: every record accounted for; the unfound ones written to --unfound-out', async () => {
  const converted: DprRecord[] = [];
  const summaryNq = new Summary('nq', []);
  await convertNq(join(SHARED_DATA, 'nq/nq_open/NQ-open.dev.jsonl'), { summary: summaryNq, write: async (r) => void converted.push(r) }, { format: 'nq-open' });
  const examples = jsonl(converted, 'nq-open.jsonl');
  const out = join(dir, 'nq-open.pos.jsonl');
  const unfoundOut = join(dir, 'nq-open.unfound.jsonl');
  const { summary } = await minePositives(base(examples, out, { unfoundOut, depth: 20 }));
  const records = readJsonl(out);
  const unfound = readJsonl(unfoundOut);
  assert.equal(summary.read, 3610);
  assert.equal(records.length + unfound.length, 3610, 'found + unfound = every question (none has an empty question or answer)');
  assert.equal(summary.skipped.get('no passage containing an answer in the top --depth BM25 hits'), unfound.length);
  assert.ok(records.length > 0 && unfound.length > records.length, `a 851-passage corpus answers few NQ questions (${records.length})`);
  assert.deepEqual(unfound[0], converted.find((r) => r.question === unfound[0].question), 'unfound records are written unchanged');
  checkAgainstSearch(records, 'string', 20, 1, 5);
});

test('CuratedTREC regex answers (--match regex): positives match the pattern, negatives do not', async () => {
  const converted: DprRecord[] = [];
  await convertNq(join(SHARED_DATA, 'nq/dpr_qa_tsv/topics.dpr.curated.test.txt'), { summary: new Summary('trec', []), write: async (r) => void converted.push(r) }, { format: 'nq-open' });
  assert.equal(converted.length, 694);
  const out = join(dir, 'trec.pos.jsonl');
  const { summary } = await minePositives(base(jsonl(converted, 'trec.jsonl'), out, { match: 'regex' }));
  const records = readJsonl(out);
  assert.equal(records.length + summary.skippedTotal, 694);
  assert.ok(records.length > 0, 'some CuratedTREC pattern matches a passage of the corpus');
  checkAgainstSearch(records, 'regex', 100, 1, 5);
});

test('records that already have positives pass unchanged; empty answers are skipped with a reason (CLI)', () => {
  const withPositive = sample[0];
  const noAnswer: DprRecord = { dataset: 'x', question: 'who?', answers: [''], positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] };
  const ex = jsonl([withPositive, noAnswer], 'mixed.jsonl');
  const out = join(dir, 'mixed.pos.jsonl');
  const res = spawnSync(process.execPath, [CLI, 'mine', 'positives', '--examples', ex, '--index', INDEX, '--out', out, '--threads', '1'], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(readJsonl(out), [withPositive]);
  const summary = JSON.parse(readFileSync(`${out}.summary.json`, 'utf8'));
  assert.equal(summary.skipped['no non-empty answer (nothing to look for)'], 1);
});
