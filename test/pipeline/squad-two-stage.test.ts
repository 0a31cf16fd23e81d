/**
 * The README's main job, end to end through the real CLI: pipelines/squad-two-stage.yaml on the
 * bundled fixtures (10 optimizer steps per stage to keep CI short). Checks the loop's promises rather than
 * its numbers: the report has BM25 / stage 1 / stage 2, mined negatives never contain an answer or
 * a positive, and a second run does nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO_ROOT } from '../_paths.ts';
import { readDprRecords } from '../../src/io/records.ts';
import { AnswerMatcher } from '../../src/text/answer.ts';

const PIPELINE = join(REPO_ROOT, 'pipelines', 'squad-two-stage.yaml');
const dprep = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' }, timeout: 600_000 });

test('squad-two-stage runs end to end, mines clean negatives, reports three stages, and reruns nothing', { timeout: 900_000 }, async () => {
  const workdir = await mkdtemp(join(tmpdir(), 'dprep-two-stage-'));
  // 10 optimizer steps per stage (320 questions): this checks the loop's mechanics, not its figures.
  const fast = ['--set', 'params.epochs=1', '--set', 'train-stage1.max-steps=10', '--set', 'train-stage2.max-steps=10', '--workdir', workdir];
  const first = dprep('run', PIPELINE, ...fast);
  assert.equal(first.status, 0, first.stderr.slice(-4000));

  const report = JSON.parse(await readFile(join(workdir, 'report.json'), 'utf8'));
  assert.deepEqual(report.runs.map((r: { label: string }) => r.label), ['BM25', 'stage 1', 'stage 2']);
  for (const run of report.runs) {
    assert.equal(run.queries, 330, 'the 3 dev articles\' questions');
    const tops = ['top@1', 'top@5', 'top@20'].map((k) => run.metrics[k]);
    tops.forEach((v) => assert.ok(v >= 0 && v <= 1, `${run.label} ${v}`));
    assert.ok(tops[0] <= tops[1] && tops[1] <= tops[2], `${run.label}: top-k must not fall as k grows: ${tops}`);
    const mrr = run.metrics['mrr@10'];
    // Each question adds 1/rank (rank ≤ 10) to MRR@10: at least its top@1 hit, at most its top@10 ≤ top@20 hit.
    assert.ok(mrr >= tops[0] - 1e-9 && mrr <= tops[2] + 1e-9, `${run.label}: mrr@10 ${mrr} lies between top@1 and top@20 (${tops})`);
  }
  assert.match(await readFile(join(workdir, 'report.md'), 'utf8'), /\| stage 2 \|/);
  // The HTML page: top-k per run, both training logs, both mining summaries (BM25 then dense).
  const html = await readFile(join(workdir, 'report.html'), 'utf8');
  const series = (id: string) => [...new RegExp(`<svg class="chart" id="${id}"[\\s\\S]*?</svg>`).exec(html)![0].matchAll(/<g class="series" data-series="([^"]*)">/g)].map((m) => m[1]);
  assert.deepEqual(series('chart-topk'), ['BM25', 'stage 1', 'stage 2']);
  assert.deepEqual(series('chart-train-loss'), ['stage 1', 'stage 2']);
  assert.deepEqual(series('chart-dev-avg_rank'), ['stage 1', 'stage 2']);
  for (const [i, kind] of [[0, 'BM25'], [1, 'dense']] as const) {
    assert.ok(series(`chart-mining-${i}`).some((l) => l.startsWith('kept hard negatives')), `mining chart ${i}`);
    assert.match(html, new RegExp(`\\(${kind}\\): kept negatives scoring at or above`));
  }

  for (const file of ['data/stage1.train.json', 'data/stage2.train.json']) {
    let records = 0;
    let negatives = 0;
    for await (const { record, where } of readDprRecords(join(workdir, file))) {
      records++;
      const matcher = new AnswerMatcher(record.answers);
      const positiveIds = new Set(record.positive_ctxs.map((c) => c.passage_id));
      assert.ok(record.positive_ctxs.length > 0, `${file} ${where}: positives kept`);
      for (const neg of record.hard_negative_ctxs) {
        negatives++;
        assert.ok(!matcher.matches(neg.text), `${file} ${where}: negative ${neg.passage_id} contains an answer`);
        assert.ok(!positiveIds.has(neg.passage_id), `${file} ${where}: negative ${neg.passage_id} is a positive`);
      }
    }
    assert.equal(records, 1499, `${file}: every question of the 6 train articles`);
    assert.ok(negatives > records, `${file}: ${negatives} negatives mined`);
  }

  const lock = await readFile(join(workdir, 'dprep.lock.yaml'), 'utf8');
  const second = dprep('run', PIPELINE, ...fast);
  assert.equal(second.status, 0, second.stderr.slice(-2000));
  assert.equal(await readFile(join(workdir, 'dprep.lock.yaml'), 'utf8'), lock, 'an unchanged rerun leaves the lockfile as it was');
  const status = dprep('status', PIPELINE, ...fast, '--json');
  assert.equal(status.status, 0, status.stderr);
  const states = JSON.parse(status.stdout) as { step: string; state: string }[];
  assert.equal(states.length, 15);
  assert.deepEqual(states.filter((s) => s.state !== 'fresh'), []);
});
