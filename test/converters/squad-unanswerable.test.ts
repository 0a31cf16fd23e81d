// SQuAD v2 unanswerable paragraphs as hard negatives of the same article's other questions
// (--unanswerable-negatives N): golden on the tiny fixture, a table of edge cases, invariants on real v2 dev data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { convertSquad, convertSquadJson } from '../../src/converters/squad.ts';
import { hasAnswer } from '../../src/text/answer.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { CLI, FIXTURES, REPO_ROOT, SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const GOLDEN = join(FIXTURES, 'squad', 'tiny-v2-unanswerable-negatives.golden');
const V2_DEV = join(SHARED_DATA, 'squad_v2.0', 'dev-v2.0.first5articles.json');

function sink() {
  const passages: Passage[] = [];
  const records: DprRecord[] = [];
  return { passages, records, sink: { passage: async (p: Passage) => void passages.push(p), record: async (r: DprRecord) => void records.push(r) } };
}

test('golden: tiny v2 fixture with --unanswerable-negatives 2 (reviewed: q14 gets the Normans passage without its answer)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-squad-un-'));
  try {
    const out = join(dir, 'records.jsonl');
    const res = spawnSync(process.execPath, [CLI, 'convert', 'squad', '--input', 'fixtures/squad/tiny-v2.json', '--passage-words', '8', '--out', out, '--unanswerable-negatives', '2'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, DPREP_QUIET: '1' },
    });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(await readFile(out, 'utf8'), await readFile(join(GOLDEN, 'records.jsonl'), 'utf8'));
    const summary = JSON.parse(await readFile(`${out}.summary.json`, 'utf8'));
    const golden = JSON.parse(await readFile(join(GOLDEN, 'summary.json'), 'utf8'));
    // Inputs are named by the path given; compare everything else.
    assert.deepEqual({ ...summary, inputs: undefined }, { ...golden, inputs: undefined });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const para = (context: string, qas: unknown[]) => ({ context, qas });
const ask = (id: string, text: string, context: string) => ({ id, question: `q ${id}?`, answers: [{ text, answer_start: context.indexOf(text) }] });
const impossible = (id: string) => ({ id, question: `u ${id}?`, is_impossible: true, answers: [] });
const A = 'Paris is the capital of France.';
const B = 'Lyon is a city of France near the Alps.';
const C = 'Marseille has the old port and also Paris buses.';
const D = 'Nice lies on the Riviera.';
// [case, articles, N, expected negatives' texts per answerable question id]
const cases: [string, unknown[], number, Record<string, string[]>][] = [
  ['a later unanswerable paragraph feeds an earlier question', [{ title: 'T', paragraphs: [para(A, [ask('a', 'Paris', A)]), para(B, [impossible('u')])] }], 3, { a: [B] }],
  ['a paragraph without an unanswerable question is not used', [{ title: 'T', paragraphs: [para(A, [ask('a', 'Paris', A)]), para(D, [ask('d', 'Nice', D)])] }], 3, { a: [], d: [] }],
  ['an unanswerable passage containing the answer is dropped', [{ title: 'T', paragraphs: [para(A, [ask('a', 'Paris', A)]), para(C, [impossible('u')]), para(B, [impossible('v')])] }], 3, { a: [B] }],
  ['own positive excluded, N caps in corpus order', [{ title: 'T', paragraphs: [para(A, [ask('a', 'capital', A), impossible('u')]), para(B, [impossible('v')]), para(D, [impossible('w')])] }], 1, { a: [B] }],
  ['another article\'s unanswerable paragraph is never used', [{ title: 'T', paragraphs: [para(A, [ask('a', 'Paris', A)])] }, { title: 'U', paragraphs: [para(B, [impossible('u')])] }], 3, { a: [] }],
  ['N = 0 adds nothing', [{ title: 'T', paragraphs: [para(A, [ask('a', 'Paris', A)]), para(B, [impossible('u')])] }], 0, { a: [] }],
];
for (const [name, data, n, want] of cases) {
  test(`unanswerable negatives: ${name}`, async () => {
    const { records, sink: s } = sink();
    await convertSquadJson({ version: 'v2.0', data }, 'inline', { unanswerableNegatives: n }, s);
    const got = Object.fromEntries(records.map((r) => [r.id, r.hard_negative_ctxs.map((c) => c.text)]));
    assert.deepEqual(got, want);
  });
}

test('real SQuAD v2 dev (5 articles): unanswerable-paragraph negatives are on topic, answer-free, not positives, and counted', async () => {
  const root = JSON.parse(await readFile(V2_DEV, 'utf8'));
  const N = 5;
  const plain = sink();
  await convertSquad(V2_DEV, {}, plain.sink);
  const mined = sink();
  const summary = await convertSquad(V2_DEV, { unanswerableNegatives: N }, mined.sink);
  // Same records, passages and order as without the option; only hard_negative_ctxs differ.
  assert.deepEqual(mined.passages, plain.passages);
  assert.deepEqual(mined.records.map((r) => ({ ...r, hard_negative_ctxs: [] })), plain.records);
  // Unanswerable paragraphs' contexts per article title, read straight from the JSON.
  const unanswerableContexts = new Map<string, string[]>();
  for (const a of root.data) {
    const title = a.title.replace(/_/g, ' ');
    unanswerableContexts.set(title, a.paragraphs.filter((p: { qas: { is_impossible?: boolean }[] }) => p.qas.some((q) => q.is_impossible === true)).map((p: { context: string }) => p.context));
  }
  let added = 0;
  let full = 0;
  for (const r of mined.records) {
    assert.ok(r.hard_negative_ctxs.length <= N);
    if (r.hard_negative_ctxs.length === N) full++;
    const positives = new Set(r.positive_ctxs.map((c) => c.passage_id));
    const ids = r.hard_negative_ctxs.map((c) => c.passage_id);
    assert.equal(new Set(ids).size, ids.length, 'no repeats');
    for (const c of r.hard_negative_ctxs) {
      assert.ok(!positives.has(c.passage_id), `${r.id}: a positive used as negative`);
      assert.ok(!hasAnswer(r.answers, c.text), `${r.id}: negative ${c.passage_id} contains an answer`);
      assert.equal(c.title, r.positive_ctxs[0].title, 'same article');
      assert.ok(unanswerableContexts.get(c.title)!.some((ctx) => ctx.includes(c.text)), `${c.passage_id} is from an unanswerable paragraph`);
    }
    added += r.hard_negative_ctxs.length;
  }
  assert.ok(full > mined.records.length / 2, `most questions get ${N} negatives (${full} of ${mined.records.length})`);
  assert.equal(summary.extra.get('unanswerable-paragraph negatives added'), added);
  assert.ok((summary.extra.get('unanswerable-paragraph passages not used: contain an answer') ?? 0) > 0, 'the answer filter removed some');
});
