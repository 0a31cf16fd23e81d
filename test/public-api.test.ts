/**
 * The library surface through the package name, as a user imports it: Node resolves `'dprep'`
 * to src/index.ts through package.json's `exports` (a package may import itself by name).
 * The name lists pin the API: a failing diff shows what was added or removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dprep from 'dprep';
import {
  AnswerMatcher,
  Bm25Index,
  InputError,
  Summary,
  buildBm25Index,
  chunkText,
  convertSquadJson,
  createVectorIndex,
  dagText,
  evaluateRun,
  hasAnswer,
  loadEncoder,
  openCorpusWriter,
  parseMetrics,
  planPipeline,
  readArrowRows,
  readCorpus,
  readDprRecords,
  readPipelineFile,
  selectNegatives,
  topKAccuracy,
  type DprRecord,
  type Hit,
  type Passage,
  type Qrels,
  type Run,
} from 'dprep';
import { FIXTURES, REPO_ROOT } from './_paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-public-api-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// [group, runtime names]: the values `import * as dprep from 'dprep'` holds, by stage.
const VALUES: [string, string[]][] = [
  ['data model and errors', ['DPREP_VERSION', 'InputError', 'Summary', 'UsageError']],
  ['answer matching', ['AnswerMatcher', 'dprTokens', 'hasAnswer']],
  ['formats', ['openCorpusWriter', 'openRecordWriter', 'readArrowRows', 'readCorpus', 'readDprRecords', 'validateDprRecord']],
  ['converters', ['chunkText', 'convertMsmarco', 'convertNq', 'convertSquad', 'convertSquadJson', 'detectNqFormat']],
  ['bm25', ['Bm25Index', 'buildBm25Index', 'createAnalyzer']],
  ['mining', ['mineBm25', 'mineDense', 'rescoreNegatives', 'selectNegatives']],
  ['trainer', ['loadCrossEncoder', 'loadEncoder', 'trainBiEncoder']],
  ['vector search', ['EmbeddingsWriter', 'createVectorIndex', 'encodeCorpus', 'readEmbeddingShards', 'readEmbeddingsManifest']],
  ['eval', ['answerMrr', 'denseRun', 'dprAccuracy', 'evaluateRun', 'firstAnswerRank', 'parseMetrics', 'readQrels', 'readRun', 'renderReportMarkdown', 'reportJson', 'topKAccuracy', 'writeQrels', 'writeReport', 'writeRun']],
  ['pipeline', ['PipelineError', 'StepFailedError', 'dagMermaid', 'dagText', 'parsePipeline', 'pipelineStatus', 'planPipeline', 'readPipelineFile', 'runPipeline']],
];

// Types leave no trace at run time; these are read from src/index.ts's `export type` / `type X` entries.
const TYPES = [
  'Analyzer', 'AnalyzerConfig', 'AnalyzerLang', 'Bm25BuildOptions', 'Bm25Hit', 'Bm25Params', 'Chunk', 'CorpusFormat', 'CorpusWriter', 'CrossEncoder', 'CrossEncoderOptions', 'Ctx',
  'DenseMiningOptions', 'DenseMiningResult', 'DprRecord', 'EmbeddingsManifest', 'EncodeCorpusOptions', 'EncodeCorpusResult', 'EncodeInput',
  'Encoder', 'EncoderOptions', 'EvaluationResult', 'FilterCounts', 'Hit', 'MatchMode', 'MetricSpec', 'MineBm25Options', 'MiningReport',
  'MsmarcoConvertOptions', 'MsmarcoSink', 'NegativeSelection', 'NqInputFormat', 'NqOptions', 'NqSink', 'Passage', 'PipelineSpec', 'Plan',
  'PlanOptions', 'PlannedStep', 'Qrels', 'RecordFormat', 'RecordWithLocation', 'RecordWriter', 'ReportRow', 'RescoreOptions', 'Run', 'RunEntry', 'RunOptions',
  'RunResult', 'Span', 'SquadConvertOptions', 'SquadSink', 'TopK', 'TrainOptions', 'TrainResult', 'UnanswerableRecord', 'VectorIndex',
  'VectorIndexOptions',
];

test("the values exported from 'dprep' are exactly the curated list (no CLI plumbing, parsers' internals, kernels, test oracles)", () => {
  const expected = VALUES.flatMap(([, names]) => names).sort();
  assert.deepEqual(Object.keys(dprep).sort(), expected);
  for (const name of ['createWinkReference', 'commands', 'defineCommand', 'resolveOptions', 'exactSearchParallel', 'mergeTopK', 'parseQrelsLine', 'HashCache']) {
    assert.ok(!(name in dprep), `${name} is internal`);
  }
});

test('the exported type names are exactly the curated list, and src/index.ts only re-exports', () => {
  const index = readFileSync(join(REPO_ROOT, 'src', 'index.ts'), 'utf8');
  const code = index.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').trim();
  const statements = code.split(/;\s*/).filter(Boolean);
  assert.ok(statements.every((s) => /^export (type )?\{[^}]*\} from '\.\/[^']+'$/.test(s.trim())), 'only `export { … } from` statements');
  const types: string[] = [];
  for (const [, typeOnly, list] of code.matchAll(/export (type )?\{([^}]*)\}/g)) {
    for (const entry of list.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (typeOnly || entry.startsWith('type ')) types.push(entry.replace(/^type /, '').split(' as ').pop()!.trim());
    }
  }
  assert.deepEqual(types.sort(), [...TYPES].sort());
});

// One use per stage, through the public import only.

test('data model and answer matching: hasAnswer is DPR has_answer; InputError names file, record and field', () => {
  assert.equal(hasAnswer(['U.S.'], 'the U.S. army'), true);
  assert.equal(hasAnswer(['art'], 'a party'), false, 'whole tokens only');
  assert.equal(new AnswerMatcher(['Denver Broncos']).matches('The Denver Broncos won.'), true);
  const e = new InputError('train.jsonl', 'line 3', 'answers', 'expected an array of strings');
  assert.equal(e.message, 'train.jsonl, line 3, field "answers": expected an array of strings');
  const summary = new Summary('test', ['x']);
  summary.skip('no answer', 'line 1');
  assert.equal(summary.skippedTotal, 1);
});

test('formats: readDprRecords on the golden DPR file; a corpus written and read back; Arrow rows', async () => {
  const records: DprRecord[] = [];
  for await (const { record } of readDprRecords(join(FIXTURES, 'io', 'golden', 'records.dpr.json'))) records.push(record);
  assert.deepEqual(records.map((r) => r.dataset), ['nq_dev_psgs_w100', 'squad1', 'dpr_qa']);
  assert.deepEqual(records[1].answers, ['Denver Broncos', 'Broncos']);

  const passages: Passage[] = [{ passage_id: 'p1', title: 'T', text: 'one' }, { passage_id: 'p2', title: '', text: 'two' }];
  const file = join(dir, 'corpus.tsv');
  const out = await openCorpusWriter(file);
  for (const p of passages) await out.write(p);
  await out.close();
  const back: Passage[] = [];
  for await (const p of readCorpus(file)) back.push(p);
  assert.deepEqual(back, passages);

  const { Table, tableToIPC, vectorFromArray, Utf8 } = await import('apache-arrow');
  const arrowFile = join(dir, 'data-00000-of-00001.arrow');
  writeFileSync(arrowFile, tableToIPC(new Table({ question: vectorFromArray(['q0', 'q1'], new Utf8()) }), 'stream'));
  const rows = [];
  for await (const row of readArrowRows(arrowFile)) rows.push(row);
  assert.deepEqual(rows, [{ question: 'q0' }, { question: 'q1' }]);
});

test('converters: a tiny SQuAD object becomes one DPR record whose positive holds the answer', async () => {
  const context = 'Super Bowl 50 was won by the Denver Broncos in Santa Clara.';
  const squad = {
    version: '1.1',
    data: [{ title: 'Super Bowl 50', paragraphs: [{ context, qas: [{ id: 'q1', question: 'Who won?', answers: [{ text: 'Denver Broncos', answer_start: context.indexOf('Denver') }] }] }] }],
  };
  const records: DprRecord[] = [];
  const passages: Passage[] = [];
  const summary = await convertSquadJson(squad, 'inline.json', { passageWords: 100 }, {
    passage: async (p) => void passages.push(p),
    record: async (r) => void records.push(r),
  });
  assert.equal(summary.converted, 1);
  assert.equal(records.length, 1);
  assert.equal(passages.length, 1);
  assert.deepEqual(records[0].answers, ['Denver Broncos']);
  assert.equal(records[0].positive_ctxs[0].passage_id, passages[0].passage_id);
  assert.deepEqual(chunkText('a b c d e', 2).chunks.map((c) => c.text), ['a b', 'c d', 'e']);
});

test('bm25 and mining: build an index, search it, and keep only answer-free negatives', async () => {
  const passages: Passage[] = [
    { passage_id: 'p1', title: 'Broncos', text: 'The Denver Broncos won the game.' },
    { passage_id: 'p2', title: 'Panthers', text: 'The Carolina Panthers lost the game.' },
    { passage_id: 'p3', title: 'Stadium', text: 'The game was played in Santa Clara.' },
  ];
  const indexDir = join(dir, 'corpus.bm25');
  await buildBm25Index(passages, indexDir, { analyzer: { lang: 'en' } });
  const index = Bm25Index.open(indexDir);
  try {
    const hits = index.search('who won the game', 3);
    assert.equal(index.passage(hits[0].doc).passage_id, 'p1');
    const ranked: Hit[] = hits.map((h, rank) => ({ passage: index.passage(h.doc), score: h.score, rank }));
    const { negatives, counts } = selectNegatives(ranked, {
      matcher: new AnswerMatcher(['Santa Clara']),
      checkTitle: false,
      positiveIds: new Set(['p1']),
      positiveTexts: new Set(),
      count: 5,
      strategy: 'top',
    });
    assert.deepEqual(negatives.map((n) => n.passage.passage_id), ['p2']);
    assert.equal(counts.positive, 1);
    assert.equal(hits.length, 3);
    assert.equal(counts.answer, 1, 'p3 holds the answer');
  } finally {
    index.close();
  }
});

test('trainer: loadEncoder embeds with a BERT in the HF layout (randomly initialized bert-tiny)', async () => {
  // Setup only: internals write the model dir; the subject is loadEncoder from 'dprep'.
  const { readBertConfig } = await import('../src/trainer/config.ts');
  const { initBertTensors } = await import('../src/trainer/bert.ts');
  const { writeModelDir } = await import('../src/trainer/checkpoint.ts');
  const modelDir = join(dir, 'bert-tiny');
  const config = await readBertConfig(join(FIXTURES, 'models', 'bert-tiny', 'config.json'));
  await writeModelDir(modelDir, config, initBertTensors(config, 1), join(FIXTURES, 'models', 'bert-tiny'));
  const encoder = await loadEncoder(modelDir, { backend: 'cpu', maxLength: 16 });
  try {
    const vecs = await encoder.encode([{ text: 'who won super bowl 50' }, { title: 'Super Bowl 50', text: 'the Denver Broncos won' }]);
    assert.equal(encoder.dim, 128);
    assert.equal(vecs.length, 2 * 128);
    assert.ok(vecs.every(Number.isFinite));
    assert.notDeepEqual(vecs.subarray(0, 128), vecs.subarray(128));
  } finally {
    encoder.dispose();
  }
});

test('vector search and eval: exact inner-product top-k, then MRR@10 and top-k accuracy', async () => {
  const index = createVectorIndex(2, { backend: 'exact' });
  index.add(new Float32Array([1, 0, 0, 1, 0.6, 0.8]));
  const top = await index.search(new Float32Array([0, 1]), 2);
  assert.deepEqual([...top.ids], [1, 2]);

  const run: Run = new Map([['q1', [{ docid: 'd2', score: 2 }, { docid: 'd1', score: 1 }]]]);
  const qrels: Qrels = new Map([['q1', new Map([['d1', 1]])]]);
  assert.equal(evaluateRun(run, qrels, parseMetrics(['mrr@10'])).metrics['mrr@10'], 0.5);
  assert.deepEqual(topKAccuracy([0, 3, -1], [1, 5]), { 'top@1': 1 / 3, 'top@5': 2 / 3 });
});

test('pipeline: the bundled two-stage pipeline plans and prints its step graph', async () => {
  const plan = planPipeline(await readPipelineFile(join(REPO_ROOT, 'pipelines', 'squad-two-stage.yaml')), { workdir: join(dir, 'work') });
  const graph = dagText(plan);
  for (const step of ['convert-train', 'init-model', 'mine-dense', 'report']) assert.match(graph, new RegExp(step));
  assert.ok(plan.steps.findIndex((s) => s.name === 'convert-train') < plan.steps.findIndex((s) => s.name === 'mine-dense'), 'dependency order');
});
