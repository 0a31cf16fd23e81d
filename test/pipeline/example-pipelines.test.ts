/**
 * The example pipelines in pipelines/: all validate, and the NQ, MS MARCO and PIAF/CamemBERT
 * two-stage loops run end to end through the real CLI on their bundled fixtures (one epoch per stage
 * to keep CI short). Checks the loop's promises rather than its numbers: three report rows with
 * metrics in [0, 1], mined negatives that never contain an answer (NQ, PIAF) or a positive (all),
 * and a rerun that does nothing. The SQuAD loop has its own test (squad-two-stage.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES, REPO_ROOT } from '../_paths.ts';
import { readDprRecords } from '../../src/io/records.ts';
import { hasAnswer } from '../../src/text/answer.ts';

const PIPELINES = join(REPO_ROOT, 'pipelines');
const dprep = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' }, timeout: 600_000 });

test('every pipeline in pipelines/ validates', () => {
  const files = readdirSync(PIPELINES).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(PIPELINES, f));
  assert.ok(files.length >= 3, `pipelines found: ${files.join(', ')}`);
  const r = dprep('validate', ...files);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  for (const f of files) assert.match(r.stdout, new RegExp(`^ok\\s+\\S*${f.split('/').pop()!.replace('.', '\\.')}`, 'm'));
});

interface Report {
  metrics: string[];
  runs: { label: string; queries: number; metrics: Record<string, number> }[];
}

/** Runs a pipeline in a temp workdir, checks the report shape, then that a rerun skips every step. */
async function runTwice(pipeline: string, steps: number, check: (workdir: string, report: Report) => Promise<void>) {
  const workdir = await mkdtemp(join(tmpdir(), 'dprep-example-'));
  try {
    const args = ['--set', 'params.epochs=1', '--workdir', workdir];
    const first = dprep('run', pipeline, ...args);
    assert.equal(first.status, 0, first.stderr.slice(-4000));
    const report = JSON.parse(await readFile(join(workdir, 'report.json'), 'utf8')) as Report;
    assert.deepEqual(report.runs.map((r) => r.label), ['BM25', 'stage 1', 'stage 2']);
    for (const run of report.runs) {
      for (const name of report.metrics) {
        const v = run.metrics[name];
        assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${run.label} ${name} = ${v}`);
      }
    }
    assert.match(await readFile(join(workdir, 'report.md'), 'utf8'), /\| BM25 \|[\s\S]*\| stage 1 \|[\s\S]*\| stage 2 \|/);
    await check(workdir, report);

    const lock = await readFile(join(workdir, 'dprep.lock.yaml'), 'utf8');
    const second = dprep('run', pipeline, ...args);
    assert.equal(second.status, 0, second.stderr.slice(-2000));
    assert.doesNotMatch(second.stdout + second.stderr, /running:/, 'the rerun ran a step');
    assert.equal(await readFile(join(workdir, 'dprep.lock.yaml'), 'utf8'), lock, 'an unchanged rerun leaves the lockfile as it was');
    const status = dprep('status', pipeline, ...args, '--json');
    assert.equal(status.status, 0, status.stderr);
    const states = JSON.parse(status.stdout) as { step: string; state: string }[];
    assert.equal(states.length, steps);
    assert.deepEqual(states.filter((s) => s.state !== 'fresh'), []);
  } finally {
    await rm(workdir, { recursive: true, force: true });
  }
}

/** Reads mined records; checks every hard negative against `bad` and returns the counts. */
async function checkNegatives(file: string, bad: (neg: { passage_id: string; text: string }, record: { answers: string[]; positive_ctxs: { passage_id: string }[]; id?: string }, where: string) => string | undefined) {
  let records = 0;
  let negatives = 0;
  for await (const { record, where } of readDprRecords(file)) {
    records++;
    assert.ok(record.positive_ctxs.length > 0, `${file} ${where}: positives kept`);
    for (const neg of record.hard_negative_ctxs) {
      negatives++;
      const problem = bad(neg, record, where);
      assert.equal(problem, undefined, `${file} ${where}: negative ${neg.passage_id} ${problem}`);
    }
  }
  return { records, negatives };
}

test('nq-two-stage: DPR biencoder files → BM25 → stage 1 → dense re-mining → stage 2 → top-k report; rerun is all fresh', { timeout: 600_000 }, async () => {
  await runTwice(join(PIPELINES, 'nq-two-stage.yaml'), 15, async (workdir, report) => {
    assert.deepEqual(report.metrics, ['top@1', 'top@5', 'top@20', 'top@100']);
    for (const run of report.runs) {
      assert.equal(run.queries, 2, run.label);
      const tops = report.metrics.map((k) => run.metrics[k]);
      assert.ok(tops.every((v, i) => i === 0 || tops[i - 1] <= v), `${run.label}: top-k must not fall as k grows: ${tops}`);
    }
    // BM25 over the dev passages finds both answers in the top 100 (the positives are in that corpus).
    assert.equal(report.runs[0].metrics['top@100'], 1);
    for (const file of ['data/stage1.train.json', 'data/stage2.train.json']) {
      const { records, negatives } = await checkNegatives(join(workdir, file), (neg, record) => {
        if (hasAnswer(record.answers, neg.text)) return 'contains an answer';
        if (record.positive_ctxs.some((p) => p.passage_id === neg.passage_id)) return 'is a positive';
        return undefined;
      });
      assert.equal(records, 3, file);
      assert.ok(negatives >= records * 4, `${file}: ${negatives} negatives mined`);
    }
  });
});

test('msmarco-two-stage: collection/queries/qrels → BM25 → stage 1 → dense re-mining → stage 2 → MRR@10 report; rerun is all fresh', { timeout: 600_000 }, async () => {
  // Every passage relevant to a query in the qrels (rel > 0), to check negatives against.
  const relevant = new Map<string, Set<string>>();
  for (const line of (await readFile(join(FIXTURES, 'msmarco/two-stage/qrels.dl19-passage.txt'), 'utf8')).trim().split('\n')) {
    const [qid, , pid, rel] = line.split(/\s+/);
    if (Number(rel) > 0) relevant.set(qid, (relevant.get(qid) ?? new Set()).add(pid));
  }
  await runTwice(join(PIPELINES, 'msmarco-two-stage.yaml'), 17, async (workdir, report) => {
    assert.deepEqual(report.metrics, ['mrr@10', 'recall@100', 'ndcg@10']);
    for (const run of report.runs) assert.equal(run.queries, 10, run.label);
    // On 830 passages BM25 is strong; a sanity floor that a broken run file or qid mix-up would miss.
    assert.ok(report.runs[0].metrics['mrr@10'] > 0.5, JSON.stringify(report.runs[0]));
    for (const file of ['data/stage1.train.json', 'data/stage2.train.json']) {
      const { records, negatives } = await checkNegatives(join(workdir, file), (neg, record, where) => {
        assert.deepEqual(record.answers, [], `${where}: MS MARCO records have no answers`);
        if (record.positive_ctxs.some((p) => p.passage_id === neg.passage_id)) return 'is a positive';
        if (relevant.get(record.id!)?.has(neg.passage_id)) return 'is relevant in the qrels';
        return undefined;
      });
      assert.equal(records, 33, file);
      // BM25 finds fewer than 8 non-positive hits for a few short queries; dense search always has 8.
      if (file.includes('stage2')) assert.equal(negatives, 33 * 8, `${file}: every query gets its 8 negatives`);
      else assert.ok(negatives >= 33 * 6 && negatives <= 33 * 8, `${file}: ${negatives} negatives mined`);
    }
    // The miners say the answer filter was not in play, rather than skipping the records.
    const summary = JSON.parse(await readFile(join(workdir, 'data/stage2.train.json.summary.json'), 'utf8'));
    assert.equal(summary.extra['mined without answers: positives excluded by id and text only'], 33);
  });
});

test('piaf-camembert-two-stage: PIAF → French BM25 → CamemBERT stage 1 → dense re-mining → stage 2 → top-k report; rerun is all fresh', { timeout: 600_000 }, async () => {
  await runTwice(join(PIPELINES, 'piaf-camembert-two-stage.yaml'), 15, async (workdir, report) => {
    assert.deepEqual(report.metrics, ['top@1', 'top@5', 'top@20']);
    for (const run of report.runs) {
      assert.equal(run.queries, 100, run.label);
      const tops = report.metrics.map((k) => run.metrics[k]);
      assert.ok(tops.every((v, i) => i === 0 || tops[i - 1] <= v), `${run.label}: top-k must not fall as k grows: ${tops}`);
    }
    // The BM25 steps set no lang: the French analyzer comes from the data (dataset "piaf", ids piaf-<n>).
    for (const file of ['data/stage1.train.json.mining.json', 'data/dev.bm25neg.json.mining.json']) {
      const mining = JSON.parse(await readFile(join(workdir, file), 'utf8'));
      assert.equal(mining.settings.analyzer.lang, 'fr', file);
      assert.match(mining.languageFrom, /dataset "piaf"/, file);
    }
    assert.equal(JSON.parse(await readFile(join(workdir, 'index/dev.bm25/header.json'), 'utf8')).analyzer.lang, 'fr');
    for (const file of ['data/stage1.train.json', 'data/stage2.train.json']) {
      const { records, negatives } = await checkNegatives(join(workdir, file), (neg, record) => {
        if (hasAnswer(record.answers, neg.text)) return 'contains an answer';
        if (record.positive_ctxs.some((p) => p.passage_id === neg.passage_id)) return 'is a positive';
        return undefined;
      });
      assert.equal(records, 294, file);
      assert.ok(negatives > records, `${file}: ${negatives} negatives mined`);
    }
    // Both stages' encoders are CamemBERTs carrying camembert-base's own tokenizer.
    const tokenizer = await readFile(join(FIXTURES, 'models/camembert-tiny/tokenizer.json'));
    for (const dir of ['models/stage1/query_encoder', 'models/stage1/passage_encoder', 'models/stage2/query_encoder', 'models/stage2/passage_encoder']) {
      const config = JSON.parse(await readFile(join(workdir, dir, 'config.json'), 'utf8'));
      assert.equal(config.model_type, 'camembert', dir);
      assert.equal(config.vocab_size, 32005, dir);
      assert.ok((await readFile(join(workdir, dir, 'tokenizer.json'))).equals(tokenizer), `${dir}/tokenizer.json is not camembert-base's`);
    }
  });
});
