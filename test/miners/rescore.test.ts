import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { rescoreDecisions } from '../../src/miners/rescore.ts';
import type { DprRecord } from '../../src/types.ts';
import { CLI, FIXTURES } from '../_paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-rescore-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// [scores (log-odds), options, why each negative goes]
const CASES: [number[], { threshold?: number; dropTop?: number }, (string | undefined)[]][] = [
  [[3, 0, -3], { threshold: 0.9 }, ['threshold', undefined, undefined]], // sigmoid: 0.953, 0.5, 0.047
  [[3, 0, -3], { threshold: 0.5 }, ['threshold', undefined, undefined]], // 0.5 is not above 0.5
  [[3, 0.1, -3], { threshold: 0.5 }, ['threshold', 'threshold', undefined]],
  [[-1, 2, 1, 0], { dropTop: 0.5 }, [undefined, 'top', 'top', undefined]], // floor(0.5 · 4) = 2 best
  [[-1, 2, 1], { dropTop: 0.5 }, [undefined, 'top', undefined]], // floor(1.5) = 1
  [[1, 1, 0], { dropTop: 0.34 }, ['top', undefined, undefined]], // a tie: the earlier one
  [[4, 2, 1, 0], { threshold: 0.95, dropTop: 0.5 }, ['threshold', 'top', undefined, undefined]], // 0.982 > 0.95; 2 is in the top half too
  [[], { threshold: 0.1, dropTop: 0.5 }, []],
];
for (const [scores, o, want] of CASES) {
  test(`rescore decisions: ${JSON.stringify(scores)} ${JSON.stringify(o)}`, () => assert.deepEqual(rescoreDecisions(scores, o), want));
}

// The cross-bert fixture's pairs (fixtures/trainer/cross-bert/expected.json) as two mined records;
// the reference scores are 3.573, 0.349 (record 1) and 3.927, -3.799 (record 2).
const expected = JSON.parse(readFileSync(join(FIXTURES, 'trainer', 'cross-bert', 'expected.json'), 'utf8'));
const neg = (i: number) => ({ title: expected.pairs[i].title, text: expected.pairs[i].text, score: 10 - i, passage_id: `n${i}` });
const records: DprRecord[] = [
  { dataset: 'test', question: expected.pairs[0].question, answers: ['broncos'], positive_ctxs: [{ title: 'super bowl', text: 'the broncos won', passage_id: 'p0' }], negative_ctxs: [], hard_negative_ctxs: [neg(0), neg(1)] },
  { dataset: 'test', question: expected.pairs[2].question, answers: ['france'], positive_ctxs: [{ title: 'paris', text: 'paris is in france', passage_id: 'p1' }], negative_ctxs: [], hard_negative_ctxs: [neg(2), neg(3)] },
  { dataset: 'test', question: 'who won the game', answers: ['x'], positive_ctxs: [{ title: 't', text: 'the game', passage_id: 'p2' }], negative_ctxs: [], hard_negative_ctxs: [] },
  { dataset: 'test', question: '  ', answers: ['x'], positive_ctxs: [{ title: 't', text: 'x', passage_id: 'p3' }], negative_ctxs: [], hard_negative_ctxs: [neg(0)] },
];
const examples = join(tmp, 'mined.json');
writeFileSync(examples, JSON.stringify(records));
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
const crossEncoder = join(FIXTURES, 'trainer', 'cross-bert');

test('CLI mine rescore --threshold: negatives above the probability dropped, the rest kept in order with their fields; counts in the summary', () => {
  const out = join(tmp, 'denoised.jsonl');
  // sigmoid: 0.973, 0.586 | 0.981, 0.022 → at 0.9 one negative of each scored record goes.
  const r = run(['mine', 'rescore', '--cross-encoder', crossEncoder, '--examples', examples, '--out', out, '--threshold', '0.9']);
  assert.equal(r.status, 0, r.stderr);
  const got = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as DprRecord);
  assert.equal(got.length, 3, 'the empty question is skipped, every other record written');
  assert.deepEqual(got.map((x) => x.hard_negative_ctxs), [[neg(1)], [neg(3)], []]);
  assert.deepEqual(got[0].positive_ctxs, records[0].positive_ctxs);
  const summary = JSON.parse(readFileSync(out + '.summary.json', 'utf8'));
  const text = JSON.stringify(summary);
  assert.match(text, /"negatives scored":4/);
  assert.match(text, /"negatives kept":2/);
  assert.match(text, /"negatives dropped: probability above 0.9":2/);
  assert.match(text, /"records without hard negatives \(written unchanged\)":1/);
  assert.match(text, /empty question/);
  assert.match(r.stderr + r.stdout, /negatives dropped/);
});

test('CLI mine rescore --drop-top and --threshold together; refusals: no criterion, out over examples, a threshold above 1', () => {
  const out = join(tmp, 'top.json');
  // threshold 0.5 drops 3.573, 0.349 and 3.927; top half (1 of 2) adds nothing new; -3.799 kept.
  let r = run(['mine', 'rescore', '--cross-encoder', crossEncoder, '--examples', examples, '--out', out, '--threshold', '0.5', '--drop-top', '0.5']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(readFileSync(out, 'utf8')) as DprRecord[]).map((x) => x.hard_negative_ctxs.map((c) => c.passage_id)), [[], ['n3'], []]);
  // --drop-top alone: the best of each pair.
  r = run(['mine', 'rescore', '--cross-encoder', crossEncoder, '--examples', examples, '--out', out, '--drop-top', '0.5']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(readFileSync(out, 'utf8')) as DprRecord[]).map((x) => x.hard_negative_ctxs.map((c) => c.passage_id)), [['n1'], ['n3'], []]);
  assert.match(readFileSync(out + '.summary.json', 'utf8'), /"negatives dropped: in the top 0.5 of their record": 2/);

  const none = join(tmp, 'none.json');
  r = run(['mine', 'rescore', '--cross-encoder', crossEncoder, '--examples', examples, '--out', none]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--threshold P, --drop-top F/);
  assert.ok(!existsSync(none));
  r = run(['mine', 'rescore', '--cross-encoder', crossEncoder, '--examples', examples, '--out', examples, '--threshold', '0.9']);
  assert.equal(r.status, 2, 'the output may not overwrite the input');
  assert.equal(readFileSync(examples, 'utf8'), JSON.stringify(records));
  r = run(['mine', 'rescore', '--cross-encoder', crossEncoder, '--examples', examples, '--out', none, '--threshold', '1.5']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /threshold/);
});

test('pipeline: a mine.rescore step runs from YAML', () => {
  const dir = mkdtempSync(join(tmp, 'pipe'));
  cpSync(crossEncoder, join(dir, 'ce'), { recursive: true });
  writeFileSync(join(dir, 'mined.json'), JSON.stringify(records));
  writeFileSync(join(dir, 'p.yaml'), [
    'name: rescore-test', 'seed: 1', 'steps:', '  denoise:', '    uses: mine.rescore', '    with:',
    '      cross-encoder: ce', '      examples: mined.json', '      out: data/denoised.json', '      threshold: 0.9', '',
  ].join('\n'));
  const r = run(['run', join(dir, 'p.yaml')]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  // Outputs land in the pipeline's work dir (.dprep/<name>/).
  const got = JSON.parse(readFileSync(join(dir, '.dprep', 'rescore-test', 'data', 'denoised.json'), 'utf8')) as DprRecord[];
  assert.deepEqual(got.map((x) => x.hard_negative_ctxs.map((c) => c.passage_id)), [['n1'], ['n3'], []]);
});
