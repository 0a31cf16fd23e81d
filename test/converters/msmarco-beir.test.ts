// BEIR sets (corpus.jsonl, queries.jsonl, qrels/test.tsv with its header) through convert msmarco,
// on the real subsets in ../shared/data/beir; expectations come from a plain independent read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertMsmarco } from '../../src/converters/msmarco.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { InputError } from '../../src/util/errors.ts';
import { SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const BEIR = join(SHARED_DATA, 'beir');

function jsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/** What a correct conversion must give: per query in file order, its rel > 0 docids present in the corpus. */
function expected(set: string): { queries: Record<string, unknown>[]; positives: Map<string, string[]>; corpus: Map<string, Record<string, unknown>> } {
  const corpus = new Map(jsonl(join(BEIR, set, 'corpus.jsonl')).map((d) => [String(d._id), d]));
  const queries = jsonl(join(BEIR, set, 'queries.jsonl'));
  const rel = new Map<string, string[]>();
  const lines = readFileSync(join(BEIR, set, 'qrels/test.tsv'), 'utf8').split(/\r?\n/).slice(1);
  for (const line of lines) {
    const [qid, docid, score] = line.split('\t');
    if (!line.trim() || Number(score) <= 0 || !corpus.has(docid)) continue;
    const list = rel.get(qid) ?? [];
    if (!list.includes(docid)) list.push(docid);
    rel.set(qid, list);
  }
  return { queries, positives: rel, corpus };
}

for (const set of ['dbpedia_subset', 'arcd_subset']) {
  test(`BEIR ${set}: corpus.jsonl + queries.jsonl + qrels/test.tsv convert end to end`, async () => {
    const want = expected(set);
    const records: DprRecord[] = [];
    const passages: Passage[] = [];
    const summary = await convertMsmarco(
      { collection: join(BEIR, set, 'corpus.jsonl'), queries: join(BEIR, set, 'queries.jsonl'), qrels: join(BEIR, set, 'qrels/test.tsv'), dataset: set },
      { passage: async (p) => void passages.push(p), record: async (r) => void records.push(r) },
    );
    assert.equal(summary.read, want.queries.length, 'one read per queries.jsonl line');
    assert.equal(passages.length, want.corpus.size);
    assert.equal(summary.extra.get('qrels lines: header skipped'), 1);
    const withPositives = want.queries.filter((q) => want.positives.has(String(q._id)));
    assert.ok(withPositives.length > 0 && withPositives.length < want.queries.length, 'the subset has queries with and without positives');
    assert.deepEqual(records.map((r) => r.id), withPositives.map((q) => String(q._id)), 'records in queries order, exactly those with a positive in the corpus');
    assert.equal(summary.converted + summary.skippedTotal, summary.read, 'every query accounted for');
    for (const r of records) {
      const q = want.queries.find((x) => String(x._id) === r.id)!;
      assert.equal(r.question, String(q.text).trim());
      assert.deepEqual(r.positive_ctxs.map((c) => c.passage_id), want.positives.get(r.id!));
      for (const c of r.positive_ctxs) {
        const doc = want.corpus.get(c.passage_id)!;
        assert.equal(c.text, doc.text);
      }
    }
    // dbpedia has titles, arcd mostly no title key: kept as given, missing → "".
    for (const p of passages) assert.equal(p.title, want.corpus.get(p.passage_id)!.title ?? '', p.passage_id);
    if (set === 'dbpedia_subset') assert.ok(passages.every((p) => p.title !== ''), 'dbpedia titles kept');
  });
}

test('BEIR queries.jsonl: a line without _id or text is an InputError naming file, line and field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dprep-beirq-'));
  try {
    const corpus = join(dir, 'corpus.jsonl');
    writeFileSync(corpus, '{"_id":"d1","title":"","text":"x"}\n');
    const qrels = join(dir, 'qrels.tsv');
    writeFileSync(qrels, 'query-id\tcorpus-id\tscore\nq1\td1\t1\n');
    for (const [line, field] of [['{"text":"no id"}', '_id'], ['{"_id":"q1","text":3}', 'text']]) {
      const queries = join(dir, 'queries.jsonl');
      writeFileSync(queries, `{"_id":"q0","text":"fine"}\n${line}\n`);
      await assert.rejects(
        convertMsmarco({ collection: corpus, queries, qrels }, { record: async () => {} }),
        (e: unknown) => e instanceof InputError && e.file === queries && e.record === 'line 2' && e.field === field,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
