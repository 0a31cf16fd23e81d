import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readQueries } from '../../src/search/bm25/run.ts';
import { InputError } from '../../src/util/errors.ts';

const dir = await mkdtemp(join(tmpdir(), 'dprep-queries-'));
const collect = async (file: string) => {
  const out: [string, string][] = [];
  for await (const q of readQueries(file)) out.push([q.qid, q.text]);
  return out;
};
const rec = (question: string, id?: string) => ({ ...(id ? { id } : {}), dataset: 'd', question, answers: ['a'], positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] });

// [name, file name, content, expected (qid, text) pairs]
const cases: [string, string, string, [string, string][]][] = [
  ['plain query lines', 'q.jsonl', '{"id":"q1","text":"who"}\n{"_id":7,"query":"what"}\n', [['q1', 'who'], ['7', 'what']]],
  ['DPR records without ids are numbered by position, like dprep eval', 'r.jsonl', [rec('first'), rec('second')].map((r) => JSON.stringify(r)).join('\n') + '\n', [['0', 'first'], ['1', 'second']]],
  ['DPR records keep their ids', 'ids.jsonl', JSON.stringify(rec('x', 'sq-1')) + '\n', [['sq-1', 'x']]],
  ['a DPR JSON array', 'arr.json', JSON.stringify([rec('a'), rec('b', 'id-b')]), [['0', 'a'], ['id-b', 'b']]],
  ['TSV topics', 't.tsv', '101\twhat is x\r\n102\twhy y\n', [['101', 'what is x'], ['102', 'why y']]],
];
for (const [name, file, content, expected] of cases) {
  test(`readQueries: ${name}`, async () => {
    await writeFile(join(dir, file), content);
    assert.deepEqual(await collect(join(dir, file)), expected);
  });
}

test('readQueries: a line with neither id nor question names the line and field', async () => {
  await writeFile(join(dir, 'bad.jsonl'), '{"id":"1","text":"ok"}\n{"text":"no id"}\n');
  await assert.rejects(collect(join(dir, 'bad.jsonl')), (e: unknown) => e instanceof InputError && /line 2, field "id"/.test(e.message));
});
