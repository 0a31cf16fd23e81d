import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertNq, detectNqFormat, type NqInputFormat, type NqOptions } from '../../src/converters/nq.ts';
import { hasAnswer } from '../../src/text/answer.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { InputError } from '../../src/util/errors.ts';
import { Summary } from '../../src/util/summary.ts';
import { CLI, FIXTURES, SHARED_DATA } from '../_paths.ts';

const NQ = join(SHARED_DATA, 'nq');
const FIX = join(FIXTURES, 'nq');
const dir = mkdtempSync(join(tmpdir(), 'dprep-nq-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function convert(file: string, opts: NqOptions & { format?: NqInputFormat } = {}) {
  const summary = new Summary('test', [file]);
  const records: DprRecord[] = [];
  const passages: Passage[] = [];
  const format = await convertNq(file, { summary, write: async (r) => void records.push(r), passage: async (p) => void passages.push(p) }, opts);
  return { format, records, passages, summary };
}

// [file, detected format] — detection reads content; names and extensions mislead on purpose.
const detection: [string, NqInputFormat][] = [
  [join(NQ, 'dpr_biencoder/haystack_dpr_sample.json'), 'dpr'],
  [join(NQ, 'dpr_qa_tsv/topics.dpr.nq.test.txt'), 'dpr-qa'],
  [join(NQ, 'dpr_qa_tsv/topics.dpr.trivia.dev.txt'), 'dpr-qa'],
  [join(NQ, 'dpr_qa_tsv/topics.dpr.curated.test.txt'), 'nq-open'], // JSONL despite .txt
  [join(NQ, 'nq_open/NQ-open.dev.jsonl'), 'nq-open'],
  [join(NQ, 'nq_open/NQ-open.efficientqa.dev.1.1.no-annotations.jsonl'), 'nq-open'],
  [join(FIX, 'simplified-nq-sample.jsonl'), 'nq-simplified'],
  [join(FIX, 'simplified-nq-sample.jsonl.gz'), 'nq-simplified'],
  [join(FIX, 'dpr-biencoder-small.json'), 'dpr'], // BOM + CRLF
  [join(FIX, 'golden/nq-open-sample.jsonl'), 'dpr'], // DPR records as JSON lines
];
for (const [file, expected] of detection) {
  test(`detectNqFormat: ${file.split('/').slice(-2).join('/')} → ${expected}`, async () => {
    assert.equal(await detectNqFormat(file), expected);
  });
}

test('detectNqFormat: unknown content is an InputError naming line 1', async () => {
  const file = join(dir, 'plain.txt');
  writeFileSync(file, 'just some words\n');
  await assert.rejects(detectNqFormat(file), (e: unknown) => e instanceof InputError && e.record === 'line 1' && /--input-format/.test(e.message));
});

// [fixture, format, read, converted, skipped per reason] — the goldens were checked by hand
// (qa answers also against Python's csv.reader + ast.literal_eval).
const goldens: [string, string, number, number, Record<string, number>][] = [
  ['dpr-biencoder-small.json', 'dpr-biencoder-small', 3, 2, { 'no positive_ctxs': 1 }],
  ['dpr-qa-sample.csv', 'dpr-qa-sample', 8, 7, { 'no non-empty answer': 1 }],
  ['nq-open-sample.jsonl', 'nq-open-sample', 5, 4, { 'no answers given (use --allow-no-answers to keep)': 1 }],
  [
    'simplified-nq-sample.jsonl.gz',
    'simplified-nq-sample',
    6,
    3,
    { 'long answer without short answers': 1, 'no long answer': 1, 'yes/no answer only (no short answer span)': 1 },
  ],
];
for (const [input, golden, read, converted, skipped] of goldens) {
  test(`dprep convert nq ${input}: golden output and summary`, () => {
    const out = join(dir, `${golden}.jsonl`);
    const res = spawnSync(process.execPath, [CLI, 'convert', 'nq', '--input', join(FIX, input), '--out', out, '--passage-words', '10'], {
      encoding: 'utf8',
      env: { ...process.env, DPREP_QUIET: '1' },
    });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(readFileSync(out, 'utf8'), readFileSync(join(FIX, 'golden', `${golden}.jsonl`), 'utf8'));
    const summary = JSON.parse(readFileSync(`${out}.summary.json`, 'utf8'));
    assert.deepEqual([summary.read, summary.converted, summary.skipped], [read, converted, skipped]);
    assert.match(res.stderr, new RegExp(`read ${read}, converted ${converted}`));
  });
}

test('DPR biencoder sample: 5 records, duplicate gold positives removed, 751 unique passages', async () => {
  const { records, passages, summary } = await convert(join(NQ, 'dpr_biencoder/haystack_dpr_sample.json'));
  assert.equal(records.length, 5);
  assert.equal(summary.extra.get('duplicate positives removed (same passage_id)'), 4);
  for (const r of records) {
    const ids = r.positive_ctxs.map((c) => c.passage_id);
    assert.equal(new Set(ids).size, ids.length, 'positives unique by passage_id');
    assert.equal(r.dataset, 'nq_dev_psgs_w100');
  }
  // The gold copy (score 1000) is the one kept where a passage appeared twice.
  assert.ok(records.filter((r) => r.positive_ctxs[0].score === 1000).length >= 4);
  // 22 + 250 + 483 ctxs, minus the 4 duplicate positives = 751 distinct passage ids (data README).
  assert.equal(new Set(passages.map((p) => p.passage_id)).size, 751);
});

// The README of ../shared/data gives these record counts; the SHA-256 is of
// json.dumps([[question, answers], ...], ensure_ascii=False, separators=(',', ':')) computed with
// Python's csv.reader(delimiter='\t') + ast.literal_eval on the same files.
const qaFiles: [string, number, number, string][] = [
  ['topics.dpr.nq.test.txt', 3610, 6468, '09de96c4e5d55af110401859ccf7f21c30f3f1a7f7eaed95bd0163849acb7b3f'],
  ['topics.dpr.nq.dev.txt', 8757, 10693, 'd9342d16d29f6520e68bb107bc5f58d469200a9e829523889be72f13d64c9d18'],
  ['topics.dpr.trivia.test.txt', 11313, 158681, '0a26e206ca7dfc74044c1e1236e9eb51d76b125cf4f442ddfc83532e80b49c1f'],
  ['topics.dpr.trivia.dev.txt', 8837, 121721, 'a0ee5b8d52360e29ccf8286b7c0b1402964c1b77bd9a6a19f2897fa33de80d37'],
];
for (const [name, count, answers, sha] of qaFiles) {
  test(`DPR qa file ${name}: every line parses, as Python's csv + literal_eval reads it`, async () => {
    const { records, summary, format } = await convert(join(NQ, 'dpr_qa_tsv', name));
    assert.equal(format, 'dpr-qa');
    assert.equal(summary.read, count);
    assert.equal(records.length, count);
    assert.equal(records.reduce((n, r) => n + r.answers.length, 0), answers);
    const json = JSON.stringify(records.map((r) => [r.question, r.answers]));
    assert.equal(createHash('sha256').update(json).digest('hex'), sha);
    assert.ok(records.every((r) => r.positive_ctxs.length === 0 && r.hard_negative_ctxs.length === 0));
  });
}

test('NQ-open: all 3,610 dev questions; no-annotations skipped or kept with --allow-no-answers', async () => {
  const dev = await convert(join(NQ, 'nq_open/NQ-open.dev.jsonl'));
  assert.equal(dev.records.length, 3610);
  assert.ok(dev.records.every((r) => r.answers.length >= 1 && r.answers.length <= 23));
  const noAnn = join(NQ, 'nq_open/NQ-open.efficientqa.dev.1.1.no-annotations.jsonl');
  const skipped = await convert(noAnn);
  assert.equal(skipped.records.length, 0);
  assert.equal(skipped.summary.skippedTotal, 1800);
  const kept = await convert(noAnn, { allowNoAnswers: true });
  assert.equal(kept.records.length, 1800);
  assert.ok(kept.records.every((r) => r.answers.length === 0));
});

test('NQ simplified: positives hold an answer, contain no HTML tokens, and keep 19-digit example ids', async () => {
  for (const passageWords of [5, 10, 100]) {
    const { records, passages } = await convert(join(FIX, 'simplified-nq-sample.jsonl'), { passageWords });
    assert.deepEqual(
      records.map((r) => r.id),
      ['5655493461695504401', '-8457322409547436417', '4234567890123456789'],
    );
    for (const r of records) {
      for (const c of r.positive_ctxs) {
        assert.ok(hasAnswer(r.answers, c.text), `${r.id}: positive holds an answer`);
        assert.doesNotMatch(c.text, /<\/?[A-Za-z][^ ]*>/);
      }
    }
    assert.deepEqual(passages.map((p) => p.passage_id), records.flatMap((r) => r.positive_ctxs.map((c) => c.passage_id)));
    const table = passageWords >= 6 ? 'Written by Bobby Russell Released 1972' : 'Written by Bobby Russell Released';
    assert.equal(records[1].positive_ctxs[0].text, table);
    assert.equal(records[1].positive_ctxs[0].title, 'The Night the Lights Went Out in Georgia');
    assert.equal(records[2].positive_ctxs[0].title, 'The Movie (1999 film)');
    // Answers from all five annotators, in order, once each.
    assert.deepEqual(records[2].answers, ['Alice Smith', 'John Brown', 'Carol White']);
  }
});

// [case, JSON line, field named in the error]
const badSimplified: [string, string, string][] = [
  ['span past the document', '{"example_id":1,"question_text":"q","document_text":"<P> a b </P>","annotations":[{"long_answer":{"start_token":0,"end_token":9},"short_answers":[]}]}', 'annotations[0].long_answer'],
  ['non-integer token', '{"example_id":1,"question_text":"q","document_text":"a b","annotations":[{"long_answer":{"start_token":"0","end_token":1},"short_answers":[]}]}', 'annotations[0].long_answer.start_token'],
  ['question not a string', '{"example_id":1,"question_text":5,"document_text":"a b","annotations":[]}', 'question_text'],
];
for (const [name, line, field] of badSimplified) {
  test(`NQ simplified rejects ${name} naming line and field`, async () => {
    const file = join(dir, 'bad-simplified.jsonl');
    writeFileSync(file, line + '\n');
    await assert.rejects(convert(file, { format: 'nq-simplified' }), (e: unknown) => e instanceof InputError && e.record === 'line 1' && e.field === field);
  });
}

test('dprep convert nq: bad input exits 2 naming file, record and field, and leaves no output', () => {
  const input = join(dir, 'bad-types.json');
  writeFileSync(input, '[{"question":"q","answers":["a"],"positive_ctxs":[{"title":"t","text":"a","passage_id":"1"}]},\n {"question":"q2","answers":"a"}]');
  const out = join(dir, 'bad-out', 'x.jsonl');
  const res = spawnSync(process.execPath, [CLI, 'convert', 'nq', '--input', input, '--out', out, '--corpus', join(dir, 'bad-out', 'c.jsonl')], {
    encoding: 'utf8',
    env: { ...process.env, DPREP_QUIET: '1' },
  });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /bad-types\.json, record \[1\], field "answers": expected an array of strings/);
  assert.deepEqual(readdirSync(join(dir, 'bad-out')), [], 'no output and no temp file left');
});

test('dprep convert nq: a qa line whose answers are not a Python list names the line', () => {
  const input = join(dir, 'bad.qa.csv');
  writeFileSync(input, "q1\t['a']\r\nq2\t['b', c]\r\n");
  const res = spawnSync(process.execPath, [CLI, 'convert', 'nq', '--input', input, '--out', join(dir, 'bad-qa.jsonl')], { encoding: 'utf8' });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /bad\.qa\.csv, line 2, field "answers": not a Python list of strings: expected a string literal/);
  assert.equal(existsSync(join(dir, 'bad-qa.jsonl')), false);
});

test('dprep convert nq --input-format overrides detection', () => {
  const res = spawnSync(process.execPath, [CLI, 'convert', 'nq', '--input', join(FIX, 'nq-open-sample.jsonl'), '--input-format', 'nq-simplified', '--out', join(dir, 'x.jsonl')], {
    encoding: 'utf8',
  });
  assert.equal(res.status, 2, 'NQ-open lines are not simplified examples');
  assert.match(res.stderr, /nq-open-sample\.jsonl, line 1, field "question_text"/);
});

test('dprep convert nq --corpus writes each passage of the DPR sample once (751), in TSV and Parquet', async () => {
  const { readCorpus } = await import('../../src/io/corpus.ts');
  for (const ext of ['tsv', 'parquet']) {
    const corpus = join(dir, `sample-corpus.${ext}`);
    const res = spawnSync(process.execPath, [CLI, 'convert', 'nq', '--input', join(NQ, 'dpr_biencoder/haystack_dpr_sample.json'), '--out', join(dir, `sample-${ext}.json`), '--corpus', corpus], {
      encoding: 'utf8',
      env: { ...process.env, DPREP_QUIET: '1' },
    });
    assert.equal(res.status, 0, res.stderr);
    const ids: string[] = [];
    for await (const p of readCorpus(corpus)) ids.push(p.passage_id);
    assert.equal(ids.length, 751);
    assert.equal(new Set(ids).size, 751);
    assert.equal(JSON.parse(readFileSync(join(dir, `sample-${ext}.json`), 'utf8')).length, 5, 'a DPR JSON array with 5 records');
  }
});

test('DPR biencoder JSON gzipped (as DPR distributes it) converts like the plain file', async () => {
  const { gzipSync } = await import('node:zlib');
  const gz = join(dir, 'biencoder-small.json.gz');
  writeFileSync(gz, gzipSync(readFileSync(join(FIX, 'dpr-biencoder-small.json'))));
  assert.equal(await detectNqFormat(gz), 'dpr');
  const { records } = await convert(gz);
  const golden = readFileSync(join(FIX, 'golden', 'dpr-biencoder-small.jsonl'), 'utf8');
  assert.equal(records.map((r) => JSON.stringify(r) + '\n').join(''), golden);
});

// [format, file content with a bad line 3] — every JSON-lines NQ input names the file and line of bad JSON.
const badJsonLines: [NqInputFormat, string][] = [
  ['nq-open', '{"question": "q1", "answer": ["a"]}\n\n{"question": "q2", "answer": [}\n'],
  ['nq-simplified', '{"question_text": "q"\n\n{"question_text": \n'],
  ['dpr', '{"question": "q", "answers": ["a"], "positive_ctxs": []}\n\n{"question": \n'],
];
for (const [format, content] of badJsonLines) {
  test(`${format}: an invalid JSON line is an InputError naming the file and line`, async () => {
    const file = join(dir, `bad-json-${format}.jsonl`);
    writeFileSync(file, content);
    const line = format === 'nq-simplified' ? 'line 1' : 'line 3';
    await assert.rejects(convert(file, { format }), (e: unknown) => e instanceof InputError && e.file === file && e.record === line && /invalid JSON \(/.test(e.message));
  });
}
