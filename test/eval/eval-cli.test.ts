import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../_paths.ts';

const dir = await mkdtemp(join(tmpdir(), 'dprep-evalcli-'));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });

test('dprep eval --run --qrels --json prints metrics keyed by name', async () => {
  await writeFile(join(dir, 'run.trec'), 'q1 Q0 d3 1 0.9 t\nq1 Q0 d1 2 0.8 t\nq2 Q0 d9 1 0.5 t\n');
  await writeFile(join(dir, 'qrels.tsv'), 'qid\tdocid\trel\nq1\td1\t1\nq2\td9\t1\n');
  const r = dprep('eval', '--run', join(dir, 'run.trec'), '--qrels', join(dir, 'qrels.tsv'), '--metrics', 'mrr@10,recall@100', '--json', '--out', join(dir, 'bm25.json'));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { 'mrr@10': 0.75, 'recall@100': 1 });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'bm25.json'), 'utf8')), { 'mrr@10': 0.75, 'recall@100': 1, queries: 2 });
});

test('dprep eval scores DPR top-k accuracy of any run over DPR records', async () => {
  await writeFile(join(dir, 'corpus.jsonl'), ['{"id":"a","title":"","text":"Paris is in France"}', '{"id":"b","title":"","text":"Berlin is in Germany"}'].join('\n') + '\n');
  const rec = (question: string, answer: string) => JSON.stringify({ dataset: 't', question, answers: [answer], positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] });
  await writeFile(join(dir, 'dev.jsonl'), [rec('capital of france?', 'Paris'), rec('capital of germany?', 'Berlin')].join('\n') + '\n');
  await writeFile(join(dir, 'bm25.trec'), '0 Q0 a 1 2 t\n0 Q0 b 2 1 t\n1 Q0 a 1 2 t\n1 Q0 b 2 1 t\n');
  const r = dprep('eval', '--run', join(dir, 'bm25.trec'), '--examples', join(dir, 'dev.jsonl'), '--corpus', join(dir, 'corpus.jsonl'), '--k', '1,2', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { 'top@1': 0.5, 'top@2': 1 });
  // --mrr 10: question 0's answer is at rank 1, question 1's at rank 2; the run has only 2 ranks.
  const m = dprep('eval', '--run', join(dir, 'bm25.trec'), '--examples', join(dir, 'dev.jsonl'), '--corpus', join(dir, 'corpus.jsonl'), '--k', '1', '--mrr', '10', '--json');
  assert.equal(m.status, 0, m.stderr);
  assert.deepEqual(JSON.parse(m.stdout), { 'top@1': 0.5, 'mrr@10': 0.75 });
  const m1 = dprep('eval', '--run', join(dir, 'bm25.trec'), '--examples', join(dir, 'dev.jsonl'), '--corpus', join(dir, 'corpus.jsonl'), '--k', '1', '--mrr', '1', '--json');
  assert.deepEqual(JSON.parse(m1.stdout), { 'top@1': 0.5, 'mrr@1': 0.5 });
});

test('dprep eval reports no DPR top-k for records without answer strings (MS MARCO), and says how to score them', async () => {
  const rec = (question: string) => JSON.stringify({ dataset: 'msmarco', question, answers: [], positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] });
  await writeFile(join(dir, 'marco.jsonl'), [rec('capital of france?'), rec('capital of germany?')].join('\n') + '\n');
  const r = dprep('eval', '--run', join(dir, 'bm25.trec'), '--examples', join(dir, 'marco.jsonl'), '--corpus', join(dir, 'corpus.jsonl'), '--k', '1,2', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {});
  assert.match(r.stderr, /none of the 2 questions has an answer string.*--qrels/);
});

test('dprep eval report tables several runs; bad usage exits 2', async () => {
  await writeFile(join(dir, 's2.json'), JSON.stringify({ 'mrr@10': 0.9, 'recall@100': 1, queries: 2 }));
  const r = dprep('eval', 'report', '--input', `bm25=${join(dir, 'bm25.json')}`, '--input', `stage2=${join(dir, 's2.json')}`, '--out', join(dir, 'report.md'), '--json-out', join(dir, 'report.json'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(await readFile(join(dir, 'report.md'), 'utf8'), /\| bm25 \| 0\.7500 \| 1\.0000 \| 2 \|\n\| stage2 \| 0\.9000 \| 1\.0000 \| 2 \|/);
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')).metrics, ['mrr@10', 'recall@100']);
  assert.equal(dprep('eval', '--qrels', 'x').status, 2);
  assert.equal(dprep('eval', '--run', 'r', '--qrels', 'q', '--metrics', 'f1').status, 2);
});

test('dprep eval report takes plain paths with --label, and names a label/input count mismatch', async () => {
  const r = dprep('eval', 'report', '--input', `${join(dir, 'bm25.json')},${join(dir, 's2.json')}`, '--label', 'BM25,stage 2', '--out', join(dir, 'report2.md'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(await readFile(join(dir, 'report2.md'), 'utf8'), /\| BM25 \| 0\.7500 \|[\s\S]*\| stage 2 \| 0\.9000 \|/);
  const bad = dprep('eval', 'report', '--input', join(dir, 'bm25.json'), '--label', 'a,b', '--out', join(dir, 'r3.md'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /2 labels for 1 inputs/);
});
