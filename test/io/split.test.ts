import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heldOutMask, splitRecords } from '../../src/io/split.ts';
import { CLI } from '../_paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-split-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });

const rec = (i: number) => ({ dataset: 't', id: `q${i}`, question: `question ${i}?`, answers: [`a${i}`], positive_ctxs: [{ title: '', text: `a${i}`, passage_id: `p${i % 7}` }], negative_ctxs: [], hard_negative_ctxs: [] });
const input = join(dir, 'all.jsonl');
writeFileSync(input, Array.from({ length: 103 }, (_, i) => JSON.stringify(rec(i))).join('\n') + '\n');
const ids = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);

test('heldOutMask holds out round(n·fraction), the same for a seed, another set for another seed', () => {
  for (const [n, f] of [[10, 0.2], [103, 0.2], [7, 0.5], [5, 0], [5, 1], [0, 0.2]] as const) {
    assert.equal(heldOutMask(n, f, 3).reduce((a, b) => a + b, 0), Math.round(n * f), `${n} × ${f}`);
  }
  assert.deepEqual(heldOutMask(103, 0.2, 3), heldOutMask(103, 0.2, 3));
  assert.notDeepEqual(heldOutMask(103, 0.2, 3), heldOutMask(103, 0.2, 4));
});

test('heldOutMask is uniform: every index is held out about as often over many seeds', () => {
  const n = 20;
  const counts = new Array<number>(n).fill(0);
  for (let seed = 0; seed < 2000; seed++) heldOutMask(n, 0.25, seed).forEach((b, i) => (counts[i] += b));
  // Expected 500 each (binomial sd ≈ 19.4): 5 sd either side.
  for (const [i, c] of counts.entries()) assert.ok(c > 400 && c < 600, `index ${i} held out ${c} times of 2000`);
});

test('splitRecords: disjoint parts whose union is the input, input order kept, 20% held out', async () => {
  const res = await splitRecords({ examples: input, out: join(dir, 'train.jsonl'), heldoutOut: join(dir, 'test.jsonl'), fraction: 0.2, seed: 9 });
  assert.deepEqual(res, { records: 103, kept: 82, heldOut: 21 });
  const train = ids(join(dir, 'train.jsonl'));
  const held = ids(join(dir, 'test.jsonl'));
  assert.equal(new Set([...train, ...held]).size, 103);
  const order = (xs: string[]) => xs.map((x) => Number(x.slice(1)));
  for (const part of [train, held]) assert.deepEqual(order(part), [...order(part)].sort((a, b) => a - b));
  // Records pass through unchanged.
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'test.jsonl'), 'utf8').split('\n')[0]), rec(Number(held[0].slice(1))));
});

test('dprep split: the CLI writes the same split as the library for the same seed, DPR JSON by extension', () => {
  const r = dprep('split', '--examples', input, '--out', join(dir, 'c-train.json'), '--heldout-out', join(dir, 'c-test.jsonl'), '--seed', '9');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /103 records: 82 kept .*, 21 held out/);
  const arr = JSON.parse(readFileSync(join(dir, 'c-train.json'), 'utf8')) as { id: string }[];
  assert.deepEqual(arr.map((x) => x.id), ids(join(dir, 'train.jsonl')));
  assert.deepEqual(ids(join(dir, 'c-test.jsonl')), ids(join(dir, 'test.jsonl')));
});

test('dprep split: bad input names file and record, and writes neither part; bad usage exits 2', () => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, [JSON.stringify(rec(0)), JSON.stringify({ ...rec(1), answers: 'x' })].join('\n') + '\n');
  const r = dprep('split', '--examples', bad, '--out', join(dir, 'b1.jsonl'), '--heldout-out', join(dir, 'b2.jsonl'));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad\.jsonl.*line 2.*answers/);
  assert.ok(!existsSync(join(dir, 'b1.jsonl')) && !existsSync(join(dir, 'b2.jsonl')), 'no partial outputs');
  assert.equal(dprep('split', '--examples', input, '--out', join(dir, 'x.jsonl'), '--heldout-out', join(dir, 'x.jsonl')).status, 2);
  assert.equal(dprep('split', '--examples', input, '--out', join(dir, 'y.jsonl'), '--heldout-out', join(dir, 'z.jsonl'), '--heldout', '1.5').status, 2);
});
