/**
 * Every example pipeline validates, and the NQ and MS MARCO loops run end to end through the CLI
 * on their bundled fixtures (one epoch per stage), with the promises users rely on: three report
 * rows, stage-2 negatives free of answers and positives, and nothing rerun the second time.
 * (squad-two-stage has its own test.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO_ROOT } from '../_paths.ts';
import { readDprRecords } from '../../src/io/records.ts';
import { AnswerMatcher } from '../../src/text/answer.ts';

const PIPELINES = join(REPO_ROOT, 'pipelines');
const dprep = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' }, timeout: 600_000 });

test('every file in pipelines/ validates', async () => {
  const files = (await readdir(PIPELINES)).filter((f) => f.endsWith('.yaml')).sort();
  assert.deepEqual(files, ['msmarco-two-stage.yaml', 'nq-two-stage.yaml', 'squad-two-stage.yaml']);
  const r = dprep('validate', ...files.map((f) => join(PIPELINES, f)));
  assert.equal(r.status, 0, r.stderr + r.stdout);
});

const cases: [string, { labels: string[]; metrics: string[]; queries: number; records: number; byAnswer: boolean }][] = [
  ['nq-two-stage.yaml', { labels: ['BM25', 'stage 1', 'stage 2'], metrics: ['top@1', 'top@5', 'top@20', 'top@100'], queries: 5, records: 5, byAnswer: true }],
  ['msmarco-two-stage.yaml', { labels: ['BM25', 'stage 1', 'stage 2'], metrics: ['mrr@10', 'recall@100', 'ndcg@10'], queries: 43, records: 43, byAnswer: false }],
];

for (const [file, want] of cases) {
  test(`${file} runs end to end on its fixtures and reruns nothing`, { timeout: 900_000 }, async () => {
    const workdir = await mkdtemp(join(tmpdir(), 'dprep-example-'));
    const args = [join(PIPELINES, file), '--set', 'params.epochs=1', '--workdir', workdir];
    const run = dprep('run', ...args);
    assert.equal(run.status, 0, run.stderr.slice(-4000));

    const report = JSON.parse(await readFile(join(workdir, 'report.json'), 'utf8'));
    assert.deepEqual(report.runs.map((r: { label: string }) => r.label), want.labels);
    for (const row of report.runs) {
      assert.equal(row.queries, want.queries, row.label);
      for (const m of want.metrics) assert.ok(row.metrics[m] >= 0 && row.metrics[m] <= 1, `${row.label} ${m} = ${row.metrics[m]}`);
    }

    let records = 0;
    for await (const { record, where } of readDprRecords(join(workdir, 'data', 'stage2.train.json'))) {
      records++;
      const positives = new Set(record.positive_ctxs.map((c) => c.passage_id));
      const matcher = new AnswerMatcher(record.answers);
      assert.ok(record.hard_negative_ctxs.length > 0, `${where}: negatives mined`);
      for (const neg of record.hard_negative_ctxs) {
        assert.ok(!positives.has(neg.passage_id), `${where}: negative ${neg.passage_id} is a positive`);
        if (want.byAnswer) assert.ok(!matcher.matches(neg.text), `${where}: negative ${neg.passage_id} contains an answer`);
      }
    }
    assert.equal(records, want.records);

    const status = dprep('status', ...args, '--json');
    assert.equal(status.status, 0, status.stderr);
    assert.deepEqual((JSON.parse(status.stdout) as { state: string }[]).filter((s) => s.state !== 'fresh'), []);
  });
}
