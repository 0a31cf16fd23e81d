import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readQrels, readRun, writeRun } from '../../src/eval/trec.ts';
import { InputError } from '../../src/util/errors.ts';
import { SHARED_DATA } from '../_paths.ts';

const dir = await mkdtemp(join(tmpdir(), 'dprep-trec-'));
async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

test('qrels layouts: TREC "0", TREC "Q0", TSV with and without header, CRLF', async () => {
  const table: [string, string][] = [
    ['trec0', 'q1 0 d1 1\nq1 0 d2 0\nq2 0 d3 2\n'],
    ['trecQ0', 'q1 Q0 d1 1\nq1 Q0 d2 0\nq2 Q0 d3 2\n'],
    ['tsv-header', 'query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1\td2\t0\r\nq2\td3\t2\r\n'],
    ['tsv', 'q1\td1\t1\nq1\td2\t0\nq2\td3\t2\n'],
  ];
  for (const [name, text] of table) {
    const qrels = await readQrels(await file(name, text));
    assert.deepEqual([...qrels.keys()], ['q1', 'q2'], name);
    assert.equal(qrels.get('q1')!.get('d1'), 1, name);
    assert.equal(qrels.get('q2')!.get('d3'), 2, name);
  }
});

test('bad qrels and runs name the file, line and field', async () => {
  await assert.rejects(readQrels(await file('badrel', 'q1 0 d1 1\nq1 0 d2 x\n')), (e: unknown) => e instanceof InputError && /line 2/.test(e.message) && /rel/.test(e.message));
  await assert.rejects(readRun(await file('badcols', 'q1 Q0 d1 1 0.5\n')), (e: unknown) => e instanceof InputError && /line 1/.test(e.message) && /6 columns/.test(e.message));
  await assert.rejects(readRun(await file('dup', 'q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n')), /twice/);
});

test('a run survives write and read: same order, same scores', async () => {
  const run = new Map([['q1', [{ docid: 'a', score: 3.25 }, { docid: 'b', score: 1.0000001 }, { docid: 'c', score: 1 }]]]);
  const path = join(dir, 'out.trec');
  await writeRun(path, run, 'test');
  assert.equal((await readFile(path, 'utf8')).split('\n')[0], 'q1 Q0 a 1 3.25 test');
  assert.deepEqual(await readRun(path), run);
  await assert.rejects(writeRun(join(dir, 'bad.trec'), new Map([['q 1', [{ docid: 'a', score: 1 }]]])), /whitespace/);
});

test('real qrels: anserini DL19 (Q0, graded) and the headerless BEIR DL19 subset', async () => {
  const dl19 = await readQrels(join(SHARED_DATA, 'msmarco/anserini_tools/qrels.dl19-passage.txt'));
  assert.equal(dl19.size, 43);
  assert.equal([...dl19.values()].reduce((n, m) => n + m.size, 0), 9260);
  // No header: the first judgement must not be dropped (BEIR's loader would drop it).
  const beir = await readQrels(join(SHARED_DATA, 'msmarco/beir_format_dl19_subset/qrels/test.tsv'));
  assert.equal([...beir.values()].reduce((n, m) => n + m.size, 0), 4102);
  // The BEIR subset is DL19 restricted to rel > 0, grades kept.
  for (const [qid, docs] of beir) for (const [docid, rel] of docs) assert.equal(dl19.get(qid)?.get(docid), rel);
});
