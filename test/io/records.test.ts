import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { openRecordWriter, readDprRecords, recordFormatFromPath, type RecordFormat } from '../../src/io/records.ts';
import { openCorpusWriter, readCorpus, type CorpusFormat } from '../../src/io/corpus.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';
import { FIXTURES, SHARED_DATA } from '../_paths.ts';

const GOLDEN = join(FIXTURES, 'io', 'golden');
const dir = mkdtempSync(join(tmpdir(), 'dprep-records-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Records that exercise every field: optional scores, an id, unicode, quotes, empty lists. */
const RECORDS: DprRecord[] = [
  {
    dataset: 'nq_dev_psgs_w100',
    question: 'who sings does he love me with reba',
    answers: ['Linda Davis'],
    positive_ctxs: [{ title: 'Does He Love You', text: '"Does He Love You" is a song … by Reba McEntire and Linda Davis.', score: 1000, title_score: 1, passage_id: '11828866' }],
    negative_ctxs: [{ title: 'Schramm (film)', text: 'directed by Jörg Buttgereit', score: 0, title_score: 0, passage_id: '9107786' }],
    hard_negative_ctxs: [{ title: 'Hat Yai', text: 'Thai\tChinese\ncitizens', score: 11.2, title_score: 0, passage_id: '2682217' }],
  },
  { dataset: 'squad1', id: '56be4db0acb8001400a502ec', question: 'Which NFL team?', answers: ['Denver Broncos', 'Broncos'], positive_ctxs: [{ title: 'Super Bowl 50', text: 'The Denver Broncos won.', passage_id: 'sq-1' }], negative_ctxs: [], hard_negative_ctxs: [] },
  { dataset: 'dpr_qa', question: 'who got the first nobel prize in physics', answers: ['Wilhelm Conrad Röntgen'], positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] },
];

// [format, golden file] — goldens written by hand from the formats' definitions (README, Formats; Tevatron's jsonl).
const goldens: [RecordFormat, string][] = [
  ['dpr-json', 'records.dpr.json'],
  ['jsonl', 'records.jsonl'],
  ['tevatron', 'records.tevatron.jsonl'],
];
for (const [format, golden] of goldens) {
  test(`openRecordWriter(${format}) matches the golden file`, async () => {
    const out = join(dir, `out-${golden}`);
    const w = await openRecordWriter(out, format);
    for (const r of RECORDS) await w.write(r);
    assert.equal(w.count, RECORDS.length);
    await w.close();
    assert.equal(readFileSync(out, 'utf8'), readFileSync(join(GOLDEN, golden), 'utf8'));
  });
}

test('openRecordWriter: an empty DPR JSON array is valid JSON', async () => {
  const out = join(dir, 'empty.json');
  const w = await openRecordWriter(out);
  await w.close();
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), []);
});

test('DPR JSON and JSON lines read back to the same records (readDprRecords)', async () => {
  for (const name of ['records.dpr.json', 'records.jsonl']) {
    const got = [];
    for await (const { record } of readDprRecords(join(GOLDEN, name))) got.push(record);
    assert.deepEqual(got, RECORDS);
  }
});

test('Parquet records written by dprep are read by an independent reader (hyparquet)', async () => {
  const out = join(dir, 'records.parquet');
  const w = await openRecordWriter(out);
  for (const r of RECORDS) await w.write(r);
  await w.close();
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(out) })) as Record<string, unknown>[];
  assert.equal(rows.length, RECORDS.length);
  rows.forEach((row, i) => {
    const r = RECORDS[i];
    assert.equal(row.dataset, r.dataset);
    assert.equal(row.question, r.question);
    assert.deepEqual(row.answers, r.answers);
    assert.equal(row.id ?? undefined, r.id);
    for (const key of ['positive_ctxs', 'negative_ctxs', 'hard_negative_ctxs'] as const) {
      const ctxs = (row[key] ?? []) as Record<string, unknown>[];
      assert.deepEqual(
        ctxs.map((c) => ({ ...c })).map(({ score, title_score, ...c }) => ({ ...c, ...(score == null ? {} : { score }), ...(title_score == null ? {} : { title_score }) })),
        r[key],
        `${key} of row ${i}`,
      );
    }
  });
  // And dprep reads its own Parquet back.
  const back = [];
  for await (const { record } of readDprRecords(out)) back.push(record);
  assert.deepEqual(back, RECORDS);
});

const PASSAGES: Passage[] = [
  { passage_id: '1', title: "K'inich Janaab' Pakal", text: 'He said "de facto" power' },
  { passage_id: '20830873', title: 'Tab\tTitle', text: 'multi\nline text, ünïcödé' },
  { passage_id: 'doc-3', title: '', text: 'no title' },
];

for (const format of ['jsonl', 'tsv', 'parquet'] as CorpusFormat[]) {
  test(`corpus ${format}: written atomically, read back unchanged`, async () => {
    const out = join(dir, `corpus.${format}`);
    const w = await openCorpusWriter(out);
    for (const p of PASSAGES) await w.write(p);
    assert.deepEqual(readdirSync(dir).filter((f) => f === `corpus.${format}`), [], 'not under its name before close');
    await w.close();
    const back = [];
    for await (const p of readCorpus(out)) back.push(p);
    assert.deepEqual(back, PASSAGES);
    if (format === 'parquet') {
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(out) });
      assert.deepEqual(rows.map((r) => ({ ...r })), PASSAGES);
    }
    if (format === 'tsv') assert.ok(readFileSync(out, 'utf8').startsWith('id\ttext\ttitle\n'), "DPR's psgs_w100 header");
  });
}

test('readCorpus reads the real psgs_w100 TSV (quoted) and the pyserini JSONL (title\\ttext contents)', async () => {
  const tsv = [];
  for await (const p of readCorpus(join(SHARED_DATA, 'wikipedia_psgs_w100/xorqa_collection_dpr_tsv_format.tsv'))) tsv.push(p);
  assert.equal(tsv.length, 6);
  assert.equal(tsv[0].title, 'Kangxi Emperor');
  assert.match(tsv[0].text, /"de facto" power/);
  const jsonl = [];
  for await (const p of readCorpus(join(SHARED_DATA, 'wikipedia_psgs_w100/psgs_w100_pyserini_100.jsonl'))) jsonl.push(p);
  assert.equal(jsonl.length, 100);
  assert.ok(jsonl.every((p) => p.title !== '' && !p.text.includes('\t') && /^\d+$/.test(p.passage_id)));
});

// [case, JSON line, field named]
const badRecords: [string, string, string | undefined][] = [
  ['question not a string', '{"question":1,"answers":[]}', 'question'],
  ['answers not an array', '{"question":"q","answers":"a"}', 'answers'],
  ['answer not a string', '{"question":"q","answers":["a",2]}', 'answers[1]'],
  ['ctx without text', '{"question":"q","answers":[],"positive_ctxs":[{"title":"t","passage_id":"1"}]}', 'positive_ctxs[0].text'],
  ['ctx without id', '{"question":"q","answers":[],"hard_negative_ctxs":[{"title":"t","text":"x"}]}', 'hard_negative_ctxs[0].passage_id'],
  ['score not a number', '{"question":"q","answers":[],"negative_ctxs":[{"text":"x","passage_id":1,"score":"high"}]}', 'negative_ctxs[0].score'],
  ['not an object', '[1,2]', undefined],
];
for (const [name, line, field] of badRecords) {
  test(`readDprRecords rejects ${name}, naming line and field`, async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `{"question":"ok","answers":[]}\n${line}\n`);
    await assert.rejects(async () => {
      for await (const _ of readDprRecords(file));
    }, (e: unknown) => e instanceof InputError && e.record === 'line 2' && e.field === field);
  });
}

// [path, explicit format, expected]
const formats: [string, string | undefined, RecordFormat | 'usage error'][] = [
  ['a.json', undefined, 'dpr-json'],
  ['a.jsonl', undefined, 'jsonl'],
  ['a.jsonl.gz', undefined, 'jsonl'],
  ['a.parquet', undefined, 'parquet'],
  ['a.tsv', undefined, 'usage error'],
  ['a.jsonl', 'tevatron', 'tevatron'],
  ['a.jsonl', 'csv', 'usage error'],
];
for (const [path, explicit, expected] of formats) {
  test(`recordFormatFromPath(${path}, ${explicit}) → ${expected}`, () => {
    if (expected === 'usage error') assert.throws(() => recordFormatFromPath(path, explicit), UsageError);
    else assert.equal(recordFormatFromPath(path, explicit), expected);
  });
}
