import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, Float64, Int64, List, RecordBatchFileWriter, RecordBatchStreamWriter, Struct, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { readArrowRows } from '../../src/io/arrow.ts';
import { readCorpus } from '../../src/io/corpus.ts';
import { readDprRecords } from '../../src/io/records.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { InputError } from '../../src/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-arrow-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

type Columns = Record<string, { values: unknown[]; type: ConstructorParameters<typeof Field>[1] }>;
const list = (type: ConstructorParameters<typeof Field>[1]) => new List(new Field('item', type, true));
const CTX = new Struct([
  new Field('title', new Utf8()),
  new Field('text', new Utf8()),
  new Field('score', new Float64(), true),
  new Field('title_score', new Float64(), true),
  new Field('passage_id', new Utf8()),
]);

/**
 * Writes `rows` with apache-arrow's own writer, `batchRows` rows per record batch: the IPC stream
 * format (what HF datasets' save_to_disk writes) or the IPC file format (Feather v2).
 */
function writeArrow(file: string, format: 'stream' | 'file', columns: Columns, batchRows: number): void {
  const n = Object.values(columns)[0].values.length;
  const writer = format === 'stream' ? new RecordBatchStreamWriter() : new RecordBatchFileWriter();
  for (let start = 0; start < n; start += batchRows) {
    const slice = Object.fromEntries(Object.entries(columns).map(([k, c]) => [k, vectorFromArray(c.values.slice(start, start + batchRows), c.type)]));
    for (const batch of new Table(slice).batches) writer.write(batch);
  }
  writer.finish();
  writeFileSync(file, writer.toUint8Array(true));
}

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

const ctxColumn = (key: 'positive_ctxs' | 'negative_ctxs' | 'hard_negative_ctxs') => ({
  values: RECORDS.map((r) => r[key].map((c) => ({ score: null, title_score: null, ...c }))),
  type: list(CTX),
});
const RECORD_COLUMNS: Columns = {
  dataset: { values: RECORDS.map((r) => r.dataset), type: new Utf8() },
  id: { values: RECORDS.map((r) => r.id ?? null), type: new Utf8() },
  question: { values: RECORDS.map((r) => r.question), type: new Utf8() },
  answers: { values: RECORDS.map((r) => r.answers), type: list(new Utf8()) },
  positive_ctxs: ctxColumn('positive_ctxs'),
  negative_ctxs: ctxColumn('negative_ctxs'),
  hard_negative_ctxs: ctxColumn('hard_negative_ctxs'),
};

const PASSAGES: Passage[] = [
  { passage_id: '1', title: "K'inich Janaab' Pakal", text: 'He said "de facto" power' },
  { passage_id: '20830873', title: 'Tab\tTitle', text: 'multi\nline text, ünïcödé' },
  { passage_id: 'doc-3', title: '', text: 'no title' },
];

// [IPC format, file name]: HF datasets' shard name for the stream format, .feather for the file format.
const FORMATS: ['stream' | 'file', string][] = [
  ['stream', 'data-00000-of-00001.arrow'],
  ['file', 'corpus.feather'],
];

for (const [format, name] of FORMATS) {
  test(`Arrow IPC ${format}: DPR records (ctx lists as lists of structs) read back equal, in batches of 2`, async () => {
    // The record reader tells Arrow from its magic bytes, whatever the extension.
    const file = join(dir, `records-${format}.bin`);
    writeArrow(file, format, RECORD_COLUMNS, 2);
    const back = [];
    for await (const { record, where } of readDprRecords(file)) back.push({ record, where });
    assert.deepEqual(back.map((b) => b.record), RECORDS);
    assert.deepEqual(back.map((b) => b.where), ['row 0', 'row 1', 'row 2']);
  });

  test(`Arrow IPC ${format}: a corpus ({passage_id, title, text}) reads as passages by extension`, async () => {
    const file = join(dir, `${format}-${name}`);
    writeArrow(file, format, {
      passage_id: { values: PASSAGES.map((p) => p.passage_id), type: new Utf8() },
      title: { values: PASSAGES.map((p) => p.title), type: new Utf8() },
      text: { values: PASSAGES.map((p) => p.text), type: new Utf8() },
    }, 1);
    const back = [];
    for await (const p of readCorpus(file)) back.push(p);
    assert.deepEqual(back, PASSAGES);
  });
}

test('HF-style corpus: int64 `_id` column becomes a string passage id (past 2^53 too), missing title is empty', async () => {
  const file = join(dir, 'beir-corpus.arrow');
  writeArrow(file, 'stream', {
    _id: { values: [7n, 2n ** 60n + 1n], type: new Int64() },
    text: { values: ['seven', 'big'], type: new Utf8() },
  }, 1);
  const back = [];
  for await (const p of readCorpus(file)) back.push(p);
  assert.deepEqual(back, [
    { passage_id: '7', title: '', text: 'seven' },
    { passage_id: '1152921504606846977', title: '', text: 'big' },
  ]);
});

test('wrong columns stop with an InputError naming file, row and field', async () => {
  const corpus = join(dir, 'wrong.feather');
  writeArrow(corpus, 'file', { passage_id: { values: ['a', 'b'], type: new Utf8() }, body: { values: ['x', 'y'], type: new Utf8() } }, 2);
  await assert.rejects(
    async () => {
      for await (const _ of readCorpus(corpus));
    },
    (e: unknown) => e instanceof InputError && e.file === corpus && e.record === 'row 0' && e.field === 'text',
  );
  // Second row's positive lacks its passage id: the error names that row and the ctx field.
  const records = join(dir, 'wrong-records.arrow');
  const noId = new Struct([new Field('title', new Utf8()), new Field('text', new Utf8()), new Field('passage_id', new Utf8(), true)]);
  writeArrow(records, 'stream', {
    question: { values: ['q0', 'q1'], type: new Utf8() },
    answers: { values: [['a'], ['b']], type: list(new Utf8()) },
    positive_ctxs: { values: [[{ title: 't', text: 'a', passage_id: 'p0' }], [{ title: 't', text: 'b', passage_id: null }]], type: list(noId) },
  }, 1);
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const { record } of readDprRecords(records)) seen.push(record.question);
    },
    (e: unknown) => e instanceof InputError && e.file === records && e.record === 'row 1' && e.field === 'positive_ctxs[0].passage_id',
  );
  assert.deepEqual(seen, ['q0']);
});

test('the stream is read batch by batch: rows before a truncated batch arrive, then an InputError names the row', async () => {
  const file = join(dir, 'truncated.arrow');
  writeArrow(file, 'stream', { passage_id: { values: ['1', '2', '3', '4', '5'], type: new Utf8() }, text: { values: ['a', 'b', 'c', 'd', 'e'], type: new Utf8() } }, 2);
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.length - 24)); // cuts into the last batch (rows 4, 5)
  const ids: unknown[] = [];
  await assert.rejects(
    async () => {
      for await (const row of readArrowRows(file)) ids.push(row.passage_id);
    },
    (e: unknown) => e instanceof InputError && e.record === 'row 4' && /truncated or corrupt Arrow IPC/.test(e.message),
  );
  assert.deepEqual(ids, ['1', '2', '3', '4']);
});

test('a file that is not Arrow IPC, named .arrow, is an InputError naming the file', async () => {
  const file = join(dir, 'not.arrow');
  writeFileSync(file, 'passage_id\ttext\n1\thello\n');
  await assert.rejects(
    async () => {
      for await (const _ of readCorpus(file));
    },
    (e: unknown) => e instanceof InputError && e.file === file && /not an Arrow IPC stream or file/.test(e.message),
  );
});
