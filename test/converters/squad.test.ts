import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { convertSquad, convertSquadJson, type SquadSink, type UnanswerableRecord } from '../../src/converters/squad.ts';
import { readCorpus } from '../../src/io/corpus.ts';
import { readDprRecords } from '../../src/io/records.ts';
import { hasAnswer } from '../../src/text/answer.ts';
import { InputError } from '../../src/util/errors.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { CLI, FIXTURES, REPO_ROOT, SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const TINY = join(FIXTURES, 'squad', 'tiny-v2.json');
const GOLDEN = join(FIXTURES, 'squad', 'tiny-v2.golden');

/** Collects everything a conversion emits. */
function memorySink(withUnanswerable = false) {
  const passages: Passage[] = [];
  const records: DprRecord[] = [];
  const unanswerable: UnanswerableRecord[] = [];
  const sink: SquadSink = {
    passage: async (p) => void passages.push(p),
    record: async (r) => void records.push(r),
  };
  if (withUnanswerable) sink.unanswerable = async (r) => void unanswerable.push(r);
  return { sink, passages, records, unanswerable };
}

const readJsonl = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

function runCli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
}

test('golden: the tiny v2 fixture through the CLI gives the reviewed records, corpus, unanswerable file and summary', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-squad-'));
  try {
    const out = join(dir, 'records.jsonl');
    const res = runCli(['convert', 'squad', '--input', 'fixtures/squad/tiny-v2.json', '--passage-words', '8', '--out', out,
      '--corpus', join(dir, 'corpus.jsonl'), '--unanswerable-out', join(dir, 'unanswerable.jsonl')]);
    assert.equal(res.status, 0, res.stderr);
    for (const name of ['records.jsonl', 'corpus.jsonl', 'unanswerable.jsonl']) {
      assert.equal(await readFile(join(dir, name), 'utf8'), await readFile(join(GOLDEN, name), 'utf8'), name);
    }
    const summary = JSON.parse(await readFile(`${out}.summary.json`, 'utf8'));
    assert.deepEqual(summary, JSON.parse(await readFile(join(GOLDEN, 'summary.json'), 'utf8')));
    assert.match(res.stderr, /read 15, converted 7, skipped 8/);
    // No temp files left behind.
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('.')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tiny fixture: each lead decision, question by question', async () => {
  const { sink, records, passages, unanswerable } = memorySink(true);
  const summary = await convertSquad(TINY, { passageWords: 8 }, sink);
  const byId = new Map(records.map((r) => [r.id, r]));
  const positiveTexts = (id: string) => byId.get(id)?.positive_ctxs.map((c) => c.text);
  // [question id, expected answers, expected positive passage texts] — undefined: skipped.
  const rows: [string, string[] | undefined, string[] | undefined][] = [
    // three identical answers → one
    ['q1', ['Denver Broncos'], ['(AFC) champion Denver Broncos defeated the National Football']],
    // the span crosses the 8-word boundary: the boundary moves to its end, the passage has 10 words
    ['q2', ['American football game to determine'], ['Super Bowl 50 was an American football game to determine']],
    // answer_start one too far: found one character before and corrected
    ['q3', ['National Football League'], ['the champion of the National Football League (NFL)']],
    // answer_start missing on one answer: that answer dropped, the others kept in order
    ['q4', ['Denver Broncos', 'Denver'], ['(AFC) champion Denver Broncos defeated the National Football']],
    ['q5', undefined, undefined], // answer_start 1.5
    // leading space kept in the text; located by offset
    ['q6', [' Denver Broncos'], ['(AFC) champion Denver Broncos defeated the National Football']],
    // answers in two passages: both positive, the first answer's passage first
    ['q7', ['2015', 'Carolina Panthers'], ['for the 2015 season. The American Football Conference', 'Conference (NFC) champion Carolina Panthers 24–10 to earn']],
    ['q8', undefined, undefined], // "art" inside "party": fails DPR has_answer
    ['q9', undefined, undefined], // empty text + out-of-range start
    ['q10', undefined, undefined], // blank question
    ['q11', undefined, undefined], // is_impossible
    ['q12', undefined, undefined], // is_impossible without an answers key
    ['q13', undefined, undefined], // no answers
    ['q14', ['10th and 11th centuries'], ['gave their name to it in the 10th and 11th centuries.']],
  ];
  for (const [id, answers, positives] of rows) {
    assert.deepEqual(byId.get(id)?.answers, answers, id);
    assert.deepEqual(positiveTexts(id), positives, id);
  }
  assert.equal(byId.get('q1')?.question, 'Which NFL team represented the AFC at Super Bowl 50?', 'the first q1 wins over the duplicate id');
  assert.equal(byId.get('q2')?.question, 'What was Super Bowl 50?', 'question trimmed');
  assert.equal(records.length, 7);
  assert.deepEqual(unanswerable.map((r) => [r.id, r.plausible_answers, r.answers, r.positive_ctxs]), [
    ['q11', ['France'], [], []],
    ['q12', [], [], []],
  ]);
  assert.ok(records.every((r) => r.dataset === 'squad2'), 'v2.0 file → squad2');
  assert.deepEqual(passages.map((p) => p.passage_id), passages.map((_, i) => `squad2-${i}`));
  assert.ok(passages.every((p) => p.title === 'Super Bowl 50' || p.title === 'Normans'), 'underscores in titles become spaces');
  assert.equal(summary.read, summary.converted + summary.skippedTotal);
  assert.equal(summary.extra.get('chunk boundaries moved to keep an answer whole'), 2);
  assert.equal(summary.extra.get('answers: answer_start corrected'), 1);
  assert.equal(summary.extra.get('answers: duplicates removed (same text and start)'), 2);
});

test('v2 unanswerable questions are skipped and counted when no unanswerable output is given', async () => {
  const { sink, records } = memorySink(false);
  const summary = await convertSquad(TINY, { passageWords: 8, dataset: 'mine' }, sink);
  assert.equal(summary.skipped.get('unanswerable (v2 is_impossible)'), 2);
  assert.ok(records.every((r) => r.dataset === 'mine'));
});

test('answers are never cut by passage boundaries, whatever the passage size', async () => {
  for (const words of [1, 2, 3, 5, 100]) {
    const { sink, records, passages } = memorySink();
    await convertSquad(TINY, { passageWords: words }, sink);
    assert.equal(records.length, 7, `passage-words ${words}`);
    for (const r of records) for (const c of r.positive_ctxs) assert.ok(hasAnswer(r.answers, c.text), `${r.id} @ ${words}`);
    assert.ok(passages.length >= 3);
  }
});

// [case, SQuAD object, JSON path and field the error must name]
const badInputs: [string, unknown, string][] = [
  ['no data array', { version: '1.1' }, 'field "data"'],
  ['context not a string', { data: [{ title: 't', paragraphs: [{ context: 5, qas: [] }] }] }, 'data[0].paragraphs[0].context'],
  ['qas not an array', { data: [{ title: 't', paragraphs: [{ context: 'c', qas: {} }] }] }, 'data[0].paragraphs[0].qas'],
  ['title not a string', { data: [{ title: 1, paragraphs: [] }] }, 'data[0].title'],
  ['answers not an array', { data: [{ title: 't', paragraphs: [{ context: 'c', qas: [{ id: 'a', question: 'q', answers: 'c' }] }] }] }, 'data[0].paragraphs[0].qas[0].answers'],
  ['answer_start a string', { data: [{ title: 't', paragraphs: [{ context: 'a b', qas: [{ id: 'a', question: 'q', answers: [{ text: 'a', answer_start: '0' }] }] }] }] },
    'data[0].paragraphs[0].qas[0].answers[0].answer_start'],
  ['answer text not a string', { data: [{ title: 't', paragraphs: [{ context: 'a b', qas: [{ id: 'a', question: 'q', answers: [{ text: 1, answer_start: 0 }] }] }] }] },
    'data[0].paragraphs[0].qas[0].answers[0].text'],
  ['question id missing', { data: [{ title: 't', paragraphs: [{ context: 'a b', qas: [{ question: 'q', answers: [] }] }] }] }, 'data[0].paragraphs[0].qas[0].id'],
];

for (const [name, root, path] of badInputs) {
  test(`bad input stops with an error naming file and JSON path: ${name}`, async () => {
    await assert.rejects(convertSquadJson(root, 'x.json', {}, memorySink().sink), (err: unknown) => {
      assert.ok(err instanceof InputError, String(err));
      assert.ok(err.message.startsWith('x.json, ') || err.message.startsWith('x.json: '), err.message);
      assert.ok(err.message.includes(path), `${err.message} should name ${path}`);
      return true;
    });
  });
}

test('CLI: truncated JSON exits 2 naming the file and leaves no output behind', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-squad-'));
  try {
    const bad = join(dir, 'bad.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, '{"data": [{"title": "t", "paragraphs": ['));
    const out = join(dir, 'out.json');
    const res = runCli(['convert', 'squad', '--input', bad, '--out', out, '--corpus', join(dir, 'c.jsonl')]);
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /bad\.json.*invalid JSON/);
    assert.deepEqual(await readdir(dir), ['bad.json']);
    const missing = runCli(['convert', 'squad', '--input', join(dir, 'nope.json'), '--out', out]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CLI: Parquet records and corpus, DPR JSON, TSV corpus and Tevatron read back the same conversion', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-squad-'));
  try {
    const golden = await readJsonl(join(GOLDEN, 'records.jsonl'));
    const goldenCorpus = await readJsonl(join(GOLDEN, 'corpus.jsonl'));
    const base = ['convert', 'squad', '--input', TINY, '--passage-words', '8'];
    for (const [out, corpus] of [['r.parquet', 'c.parquet'], ['r.json', 'c.tsv']]) {
      const res = runCli([...base, '--out', join(dir, out), '--corpus', join(dir, corpus)]);
      assert.equal(res.status, 0, res.stderr);
      const records = [];
      for await (const { record } of readDprRecords(join(dir, out))) records.push(record);
      assert.deepEqual(records, golden, out);
      const passages = [];
      for await (const p of readCorpus(join(dir, corpus))) passages.push(p);
      assert.deepEqual(passages, goldenCorpus, corpus);
    }
    const tev = runCli([...base, '--out', join(dir, 't.jsonl'), '--format', 'tevatron']);
    assert.equal(tev.status, 0, tev.stderr);
    const first = (await readJsonl(join(dir, 't.jsonl')))[0];
    assert.deepEqual(first, {
      query_id: 'q1',
      query: golden[0].question,
      answers: ['Denver Broncos'],
      positive_passages: [{ docid: 'squad2-3', title: 'Super Bowl 50', text: golden[0].positive_ctxs[0].text }],
      negative_passages: [],
    });
    assert.ok(!existsSync(join(dir, 'c.jsonl')), 'no corpus without --corpus');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
