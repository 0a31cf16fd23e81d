import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mineBm25, type MineBm25Options } from '../../src/miners/bm25.ts';
import { hasAnswer } from '../../src/text/answer.ts';
import { normalizeForDedup } from '../../src/miners/filter.ts';
import { InputError } from '../../src/util/errors.ts';
import type { DprRecord } from '../../src/types.ts';
import { CLI, SHARED_DATA } from '../_paths.ts';
import { squadToDpr } from '../search/_squad.ts';
import { assertHistogramOf } from './_histogram.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-mine-bm25-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function writeDataset(name: string, data: { passages: { passage_id: string; title: string; text: string }[]; records: DprRecord[] }) {
  const corpus = join(tmp, `${name}.corpus.jsonl`);
  const examples = join(tmp, `${name}.dpr.json`);
  writeFileSync(corpus, data.passages.map((p) => JSON.stringify(p)).join('\n') + '\n');
  writeFileSync(examples, JSON.stringify(data.records));
  return { corpus, examples };
}

const squad = squadToDpr(join(SHARED_DATA, 'squad_v1.1', 'dev-v1.1.json'), { articles: 3 });
const piaf = squadToDpr(join(SHARED_DATA, 'piaf', 'piaf-v1.1.json'), { articles: 40, dataset: 'piaf' });
const squadFiles = writeDataset('squad', squad);
const detFiles = writeDataset('det', { passages: squad.passages, records: squad.records.slice(0, 200) });
const piafFiles = writeDataset('piaf', piaf);

const base = (files: { corpus: string; examples: string }, out: string, extra: Partial<MineBm25Options> = {}): MineBm25Options => ({
  ...files,
  out: join(tmp, out),
  depth: 50,
  negatives: 10,
  strategy: 'top',
  seed: 13,
  match: 'string',
  checkTitle: false,
  threads: 1,
  ...extra,
});

/** The invariants every mined record must hold, checked independently of the miner's code path. */
function assertInvariants(input: DprRecord[], output: DprRecord[], negatives: number, checkTitle = false) {
  assert.equal(output.length, input.length, 'every record written');
  let answerFree = 0;
  output.forEach((rec, i) => {
    const src = input[i];
    assert.equal(rec.question, src.question);
    assert.deepEqual(rec.answers, src.answers, 'answers kept');
    assert.deepEqual(rec.positive_ctxs, src.positive_ctxs, 'positives kept');
    assert.ok(rec.hard_negative_ctxs.length <= negatives);
    const posIds = new Set(src.positive_ctxs.map((c) => c.passage_id));
    const posTexts = new Set(src.positive_ctxs.map((c) => normalizeForDedup(c.text)));
    let last = Infinity;
    for (const neg of rec.hard_negative_ctxs) {
      assert.ok(!hasAnswer(src.answers, neg.text), `record ${i}: negative ${neg.passage_id} contains an answer`);
      if (checkTitle) assert.ok(!hasAnswer(src.answers, neg.title), `record ${i}: negative title contains an answer`);
      assert.ok(!posIds.has(neg.passage_id), `record ${i}: negative is a positive (id)`);
      assert.ok(!posTexts.has(normalizeForDedup(neg.text)), `record ${i}: negative is a positive (text)`);
      assert.equal(typeof neg.score, 'number');
      assert.ok(neg.score! > 0 && neg.score! <= last, 'scores are BM25 scores, best first');
      last = neg.score!;
      answerFree++;
    }
    assert.equal(new Set(rec.hard_negative_ctxs.map((c) => c.passage_id)).size, rec.hard_negative_ctxs.length, 'no duplicate negatives');
  });
  assert.ok(answerFree > output.length, 'negatives were mined');
}

test('property: SQuAD v1.1 dev — no negative holds an answer or equals a positive; positives and answers kept; report adds up', async () => {
  const report = await mineBm25(base(squadFiles, 'squad.neg.jsonl'));
  const out = readFileSync(join(tmp, 'squad.neg.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as DprRecord);
  assertInvariants(squad.records, out, 10);
  const saved = JSON.parse(readFileSync(join(tmp, 'squad.neg.jsonl.mining.json'), 'utf8'));
  assert.deepEqual(saved.filters, report.filters);
  assert.equal(saved.perRecord.length, squad.records.length);
  const f = report.filters;
  assert.equal(f.hits, f.positive + f.answer + f.duplicate + f.kept + (f.hits - f.positive - f.answer - f.duplicate - f.kept));
  assert.equal(f.kept, out.reduce((n, r) => n + r.hard_negative_ctxs.length, 0));
  assert.ok(f.answer > 0, 'SQuAD questions do retrieve answer-bearing passages that the filter removed');
  assert.equal(report.perRecord.reduce((n, r) => n + r.answer, 0), f.answer);
  // The score histogram: every kept negative's BM25 score (as written in the records) binned, every positive and answer-bearing hit counted.
  assert.deepEqual(saved.scores, report.scores);
  assertHistogramOf(report.scores, { negative: out.flatMap((r) => r.hard_negative_ctxs.map((c) => c.score!)) });
  assert.equal(report.scores.totals.answer, f.answer);
  assert.equal(report.scores.totals.positive, out.reduce((n, r) => n + r.positive_ctxs.length, 0));
  assert.equal(report.scores.counts.positive.length, report.scores.counts.negative.length);
  assert.ok(report.scores.negativesAbovePositive <= f.kept);
});

test('property: PIAF (French) with the French analyzer, random strategy and --check-title', async () => {
  await mineBm25(base(piafFiles, 'piaf.neg.json', { analyzer: { lang: 'fr' }, strategy: 'random', checkTitle: true, negatives: 5 }));
  const out = JSON.parse(readFileSync(join(tmp, 'piaf.neg.json'), 'utf8')) as DprRecord[];
  assertInvariants(piaf.records, out, 5, true);
});

test('property: generated records with planted answers in many passages never get an answer-bearing negative', async () => {
  // Every passage gets one of 5 planted phrases; each question asks for one of them.
  const phrases = ['blue heron', 'U.S. Army', 'Élysée palace', '1,204 feet', 'Saint-Exupéry'];
  const passages = Array.from({ length: 300 }, (_, i) => ({
    passage_id: `g${i}`,
    title: `T${i % 7}`,
    text: `Passage ${i} talks about rivers and the ${phrases[i % 5]} near the old mill, with bridges and ${['roads', 'fields', 'towns'][i % 3]}.`,
  }));
  const records: DprRecord[] = Array.from({ length: 60 }, (_, i) => ({
    dataset: 'gen',
    question: `Where is the ${phrases[i % 5].split(' ')[0]} near the mill and the bridges?`,
    answers: [phrases[i % 5]],
    positive_ctxs: [{ ...passages[i] }],
    negative_ctxs: [],
    hard_negative_ctxs: [],
  }));
  const files = writeDataset('gen', { passages, records });
  const report = await mineBm25(base(files, 'gen.neg.jsonl', { depth: 100, negatives: 20 }));
  const out = readFileSync(join(tmp, 'gen.neg.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as DprRecord);
  assertInvariants(records, out, 20);
  assert.ok(report.filters.answer >= 60 * 10, `planted answers were filtered (${report.filters.answer})`);
});

test('deterministic: byte-identical output and report with 1, 2 and 3 threads (random strategy)', async () => {
  const outputs = [];
  for (const threads of [1, 2, 3]) {
    await mineBm25(base(detFiles, `det-${threads}.json`, { threads, strategy: 'random', batchSize: 7 }));
    const report = JSON.parse(readFileSync(join(tmp, `det-${threads}.json.mining.json`), 'utf8'));
    delete report.settings.threads;
    delete report.out;
    outputs.push({ records: readFileSync(join(tmp, `det-${threads}.json`)), report: JSON.stringify(report) });
  }
  assert.ok(outputs[0].records.equals(outputs[1].records), '1 vs 2 threads');
  assert.ok(outputs[0].records.equals(outputs[2].records), '1 vs 3 threads');
  assert.equal(outputs[0].report, outputs[2].report);
  // A different seed changes the random sample: the seed is really used.
  await mineBm25(base(detFiles, 'det-seed.json', { strategy: 'random', seed: 14 }));
  assert.ok(!readFileSync(join(tmp, 'det-seed.json')).equals(outputs[0].records));
});

test('random strategy: splitting the examples into files gives the same records (the stream is keyed by record id, not position in a file)', async () => {
  // 200 records with SQuAD ids, split 37 / 163: a position-keyed stream would resample every record of the second file.
  const records = squad.records.slice(0, 200);
  assert.ok(records.every((r) => typeof r.id === 'string' && r.id !== ''), 'the fixture records carry ids');
  const whole = writeDataset('split-whole', { passages: squad.passages, records });
  const head = writeDataset('split-head', { passages: squad.passages, records: records.slice(0, 37) });
  const tail = writeDataset('split-tail', { passages: squad.passages, records: records.slice(37) });
  const settings = { strategy: 'random' as const, negatives: 3, depth: 50 };
  await mineBm25(base(whole, 'split-whole.jsonl', settings));
  await mineBm25(base(head, 'split-head.jsonl', settings));
  await mineBm25(base(tail, 'split-tail.jsonl', settings));
  const read = (f: string) => readFileSync(join(tmp, f), 'utf8');
  assert.equal(read('split-head.jsonl') + read('split-tail.jsonl'), read('split-whole.jsonl'));
  // The sample is random, not the top: some record's negatives are not its best-ranked survivors.
  await mineBm25(base(whole, 'split-top.jsonl', { ...settings, strategy: 'top' }));
  assert.notEqual(read('split-top.jsonl'), read('split-whole.jsonl'));
});

test('bad records are counted skips with reasons; the rest are mined', async () => {
  const good = squad.records.slice(0, 5);
  const bad: DprRecord[] = [
    { ...good[0], question: '   ' },
    { ...good[1], answers: [] },
    { ...good[2], answers: ['', ' '] },
    { ...good[3], positive_ctxs: [] },
    { ...good[4], positive_ctxs: [{ title: 'x', text: 'y', passage_id: 'not-in-corpus' }] },
  ];
  const files = writeDataset('skips', { passages: squad.passages, records: [...good, ...bad] });
  const report = await mineBm25(base({ ...files, corpus: squadFiles.corpus }, 'skips.json'));
  assert.equal(report.records.read, 10);
  // answers: [] (MS MARCO-style) is mined, filtered by positives only; all-empty answers are bad input.
  assert.equal(report.records.converted, 6);
  assert.deepEqual(report.records.skipped, {
    'empty question': 1,
    'no positive_ctxs': 1,
    'no usable answer (every answer is empty)': 1,
    'positive passage_id not in corpus': 1,
  });
  assert.deepEqual(report.records.examples['positive passage_id not in corpus'], ['record [9] passage_id=not-in-corpus']);
  const written = JSON.parse(readFileSync(join(tmp, 'skips.json'), 'utf8')) as DprRecord[];
  assert.equal(written.length, 6);
  const noAnswers = written.find((r) => r.answers.length === 0)!;
  assert.ok(noAnswers.hard_negative_ctxs.length > 0, 'a record without answers still gets negatives');
  const positiveIds = new Set(noAnswers.positive_ctxs.map((c) => c.passage_id));
  assert.ok(noAnswers.hard_negative_ctxs.every((c) => !positiveIds.has(c.passage_id)), 'positives excluded by id');
});

test('wrong corpus (no positive found anywhere) is an error, and no output file appears', async () => {
  const other = writeDataset('other', { passages: piaf.passages, records: squad.records.slice(0, 20) });
  await assert.rejects(mineBm25(base(other, 'wrong.json')), (e: unknown) => e instanceof InputError && /wrong|made from/.test(e.message));
  assert.throws(() => readFileSync(join(tmp, 'wrong.json')));
});

test('CLI: index bm25, then mine bm25 --index (2 threads, workers through bin/dprep.js) and search bm25 to a TREC run', () => {
  const index = join(tmp, 'cli.bm25');
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
  let r = run(['index', 'bm25', '--corpus', squadFiles.corpus, '--out', index]);
  assert.equal(r.status, 0, r.stderr);
  const mineArgs = ['--index', index, '--depth', '50', '--negatives', '10', '--strategy', 'random', '--seed', '13'];
  r = run(['mine', 'bm25', '--examples', detFiles.examples, ...mineArgs, '--out', join(tmp, 'cli.neg.json'), '--threads', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(join(tmp, 'cli.neg.json')).equals(readFileSync(join(tmp, 'det-1.json'))), 'CLI with worker threads = library in-process');
  r = run(['mine', 'bm25', '--examples', squadFiles.examples, '--index', index, '--out', join(tmp, 'x.json'), '--k1', '2']);
  assert.equal(r.status, 2, 'an index built with other k1 is a usage error');
  assert.match(r.stderr, /built with k1 1.2/);

  const queries = join(tmp, 'q.jsonl');
  writeFileSync(queries, squad.records.slice(0, 30).map((q, i) => JSON.stringify({ id: `q${i}`, text: q.question })).join('\n') + '\n{"id":"empty","text":"zzzzqqq"}\n');
  r = run(['search', 'bm25', '--index', index, '--queries', queries, '--k', '5', '--out', join(tmp, 'run.trec'), '--threads', '2']);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(join(tmp, 'run.trec'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 150);
  assert.match(lines[0], /^q0 Q0 \S+ 1 \d+\.\d{6} dprep-bm25$/);
  assert.equal(lines.filter((l) => l.startsWith('q1 ')).map((l) => l.split(' ')[3]).join(','), '1,2,3,4,5');
  writeFileSync(queries, '{"id":"a","text":"x"}\n{"text":"no id"}\n');
  r = run(['search', 'bm25', '--index', index, '--queries', queries, '--out', join(tmp, 'run2.trec')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /line 2, field "id"/);
});

test('empty corpus: clear error, no output and no temporary index left next to the output', async () => {
  const dir = mkdtempSync(join(tmp, 'empty-'));
  const corpus = join(dir, 'empty.jsonl');
  writeFileSync(corpus, '\n');
  await assert.rejects(mineBm25(base({ corpus, examples: squadFiles.examples }, 'empty-out/neg.json')), (e: unknown) => e instanceof InputError && e.file === corpus && /no passages/.test(e.message));
  assert.deepEqual(readdirSync(join(tmp, 'empty-out')), []);
});

test('--skip-top: the top N hits are never negatives; the window starts at N, for top and random sampling', async () => {
  const files = detFiles;
  const read = (name: string) => readFileSync(join(tmp, name), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as DprRecord);
  // Every survivor of the filters, best first (negatives = depth).
  const all = await mineBm25(base(files, 'skip0.jsonl', { negatives: 50 }));
  const skipped = await mineBm25(base(files, 'skip5.jsonl', { negatives: 50, skipTop: 5 }));
  const a = read('skip0.jsonl');
  const b = read('skip5.jsonl');
  assert.ok(skipped.filters.skipTop > 0, JSON.stringify(skipped.filters));
  assert.equal(all.filters.skipTop, 0);
  a.forEach((rec, i) => {
    // The window drops exactly the survivors ranked in the top 5 (counted per record): a prefix of the full list.
    const k = skipped.perRecord[i].skipTop;
    assert.deepEqual(b[i].hard_negative_ctxs.map((c) => c.passage_id), rec.hard_negative_ctxs.slice(k).map((c) => c.passage_id), `record ${i}`);
  });
  // random within the window: a seeded sample of the windowed survivors, same whatever the thread count.
  await mineBm25(base(files, 'skip5r.jsonl', { negatives: 3, skipTop: 5, strategy: 'random' }));
  await mineBm25(base(files, 'skip5r2.jsonl', { negatives: 3, skipTop: 5, strategy: 'random', threads: 2 }));
  const r = read('skip5r.jsonl');
  assert.deepEqual(read('skip5r2.jsonl'), r);
  r.forEach((rec, i) => {
    const window = new Set(b[i].hard_negative_ctxs.map((c) => c.passage_id));
    for (const c of rec.hard_negative_ctxs) assert.ok(window.has(c.passage_id), `record ${i}: ${c.passage_id} outside the window`);
  });
  assert.ok(r.some((rec, i) => rec.hard_negative_ctxs[0]?.passage_id !== b[i].hard_negative_ctxs[0]?.passage_id), 'random is not top');
});
