// MS MARCO conversions of the real files in ../shared/data/msmarco, checked for counts and invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { convertMsmarco, type MsmarcoConvertOptions } from '../../src/converters/msmarco.ts';
import type { DprRecord } from '../../src/types.ts';
import { SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const M = join(SHARED_DATA, 'msmarco');
const NOS = join(M, 'collection_tsv_dl19_subset');
const ANSERINI = join(M, 'anserini_tools');

async function convert(opts: MsmarcoConvertOptions) {
  const records: DprRecord[] = [];
  let passages = 0;
  const summary = await convertMsmarco(opts, { passage: async () => void passages++, record: async (r) => void records.push(r) });
  return { records, passages, summary };
}

/** Relevant pids per qid, read with a plain split (independent of the converter's parser). */
async function relevantByQid(file: string): Promise<Map<string, Set<string>>> {
  const map = new Map<string, Set<string>>();
  for (const line of (await readFile(file, 'utf8')).split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || !/^\d+$/.test(f.at(-1)!)) continue;
    const [qid, pid, rel] = f.length === 4 ? [f[0], f[2], f[3]] : f;
    if (Number(rel) > 0) map.set(qid, (map.get(qid) ?? new Set()).add(pid));
  }
  return map;
}

async function collectionTexts(file: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) map.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return map;
}

function positivesByQid(records: DprRecord[]): Map<string, Set<string>> {
  return new Map(records.map((r) => [r.id!, new Set(r.positive_ctxs.map((c) => c.passage_id))]));
}

test('real data: DL19 queries + graded TREC qrels (Q0) + the DL19 collection subset', async () => {
  const qrels = join(ANSERINI, 'qrels.dl19-passage.txt');
  const { records, passages, summary } = await convert({ collection: join(NOS, 'collection.tsv'), queries: join(NOS, 'queries.tsv'), qrels });
  const relevant = await relevantByQid(qrels);
  const texts = await collectionTexts(join(NOS, 'collection.tsv'));
  assert.equal(summary.read, 43);
  assert.equal(summary.converted, 43);
  assert.equal(passages, 4103);
  assert.deepEqual(positivesByQid(records), relevant, 'positives are exactly the rel > 0 judgements');
  const positives = records.reduce((n, r) => n + r.positive_ctxs.length, 0);
  assert.equal(positives, 4102);
  assert.equal(summary.extra.get('qrels lines: not relevant (rel <= 0), not used'), 9260 - 4102);
  for (const r of records) {
    assert.deepEqual(r.answers, []);
    for (const c of r.positive_ctxs) assert.equal(c.text, texts.get(c.passage_id), `${r.id}/${c.passage_id}`);
  }
});

test('real data: binarised NOS qrels and BEIR headerless qrels with the BEIR jsonl corpus give the same positives', async () => {
  const dl19 = positivesByQid((await convert({ collection: join(NOS, 'collection.tsv'), queries: join(NOS, 'queries.tsv'), qrels: join(ANSERINI, 'qrels.dl19-passage.txt') })).records);
  const nos = await convert({ collection: join(NOS, 'collection.tsv'), queries: join(NOS, 'queries.tsv'), qrels: join(NOS, 'qrels.txt') });
  assert.deepEqual(positivesByQid(nos.records), dl19);
  // BEIR's qrels have no header: the first judgement (19335 → 1720389) must not be taken for one.
  const beir = await convert({
    collection: join(M, 'beir_format_dl19_subset', 'corpus.jsonl'),
    queries: join(ANSERINI, 'topics.dl19-passage.txt'),
    qrels: join(M, 'beir_format_dl19_subset', 'qrels', 'test.tsv'),
  });
  assert.equal(beir.passages, 5000);
  assert.equal(beir.summary.extra.get('qrels lines: header skipped'), undefined);
  assert.ok(positivesByQid(beir.records).get('19335')?.has('1720389'));
  assert.deepEqual(positivesByQid(beir.records), dl19);
});

test('real data: dev queries against a collection that lacks their passages are all counted, none lost', async () => {
  const qrels = join(ANSERINI, 'qrels.msmarco-passage.dev-subset.txt');
  const { records, summary } = await convert({ collection: join(NOS, 'collection.tsv'), queries: join(ANSERINI, 'topics.msmarco-passage.dev-subset.txt'), qrels });
  const relevant = await relevantByQid(qrels);
  const texts = await collectionTexts(join(NOS, 'collection.tsv'));
  let present = 0;
  let withPositive = 0;
  for (const pids of relevant.values()) {
    const n = [...pids].filter((p) => texts.has(p)).length;
    present += n;
    if (n > 0) withPositive++;
  }
  assert.equal(summary.read, 6980);
  assert.equal(summary.converted, withPositive);
  assert.equal(records.length, withPositive);
  assert.equal(summary.skipped.get('no positive passage in the collection'), 6980 - withPositive);
  assert.equal(summary.extra.get('positives dropped: pid not in the collection'), 7437 - present);
  assert.equal(summary.read, summary.converted + summary.skippedTotal);
});

test('real data: DL20 topics (CRLF, 200 queries, 54 judged) count the unjudged ones as skipped', async () => {
  const qrels = join(ANSERINI, 'qrels.dl20-passage.txt');
  const { records, summary } = await convert({ collection: join(NOS, 'collection.tsv'), queries: join(ANSERINI, 'topics.dl20.txt'), qrels });
  const relevant = await relevantByQid(qrels);
  assert.equal(summary.read, 200);
  assert.equal(summary.skipped.get('no relevant passage in qrels'), 200 - relevant.size);
  assert.equal(summary.read, summary.converted + summary.skippedTotal);
  assert.ok(records.every((r) => !r.question.endsWith('\r')));
});
