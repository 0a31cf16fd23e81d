// 3-column corpus TSVs are read by their header or a --columns declaration, never a guess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCorpus, type CorpusColumns } from '../../src/io/corpus.ts';
import { corpusHeaderLayout } from '../../src/io/corpus-columns.ts';
import { convertMsmarco } from '../../src/converters/msmarco.ts';
import { commands } from '../../src/commands/index.ts';
import type { Passage } from '../../src/types.ts';
import { InputError } from '../../src/util/errors.ts';
import { SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const dir = mkdtempSync(join(tmpdir(), 'dprep-columns-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

async function read(f: string, columns?: CorpusColumns): Promise<Passage[]> {
  const out: Passage[] = [];
  for await (const p of readCorpus(f, { columns })) out.push(p);
  return out;
}

const ROW = { passage_id: '7', title: 'Aachen', text: 'Aachen is a spa city.' };
const cases: { name: string; text: string; columns?: CorpusColumns; want: Passage }[] = [
  { name: 'DPR psgs_w100 header', text: 'id\ttext\ttitle\n7\tAachen is a spa city.\tAachen\n', want: ROW },
  { name: 'OpenMatch header', text: 'id\ttitle\ttext\n7\tAachen\tAachen is a spa city.\n', want: ROW },
  { name: 'headerless, declared id,title,text', text: '7\tAachen\tAachen is a spa city.\n', columns: 'id,title,text', want: ROW },
  { name: 'headerless, declared id,text,title', text: '7\tAachen is a spa city.\tAachen\n', columns: 'id,text,title', want: ROW },
  { name: 'header agreeing with the declaration', text: 'id\ttitle\ttext\n7\tAachen\tAachen is a spa city.\n', columns: 'id,title,text', want: ROW },
  { name: '2 columns, headerless (MS MARCO)', text: '7\tAachen is a spa city.\n', want: { ...ROW, title: '' } },
  { name: '2 columns, pid passage header', text: 'pid\tpassage\n7\tAachen is a spa city.\n', want: { ...ROW, title: '' } },
];
for (const c of cases) {
  test(`corpus TSV columns: ${c.name}`, async () => {
    assert.deepEqual(await read(file(`${c.name.replace(/\W+/g, '_')}.tsv`, c.text), c.columns), [c.want]);
  });
}

test('a headerless 3-column TSV without --columns is an InputError naming the file and the flag', async () => {
  const f = file('openmatch.tsv', '7\tAachen\tAachen is a spa city.\n');
  await assert.rejects(read(f), (e: unknown) => e instanceof InputError && e.file === f && e.record === 'line 1' && /--columns id,title,text/.test(e.message));
});

test('a header that disagrees with --columns, or a row of the wrong width, is an InputError', async () => {
  const f = file('conflict.tsv', 'id\ttext\ttitle\n7\tx\tT\n');
  await assert.rejects(read(f, 'id,title,text'), (e: unknown) => e instanceof InputError && e.file === f && /header row says id,text,title/.test(e.message));
  const g = file('ragged.tsv', '7\tT\tx\n8\tonly two\n');
  await assert.rejects(read(g, 'id,title,text'), (e: unknown) => e instanceof InputError && e.file === g && e.record === 'line 2' && /expected 3/.test(e.message));
});

test("header layouts: DPR's and OpenMatch's names are recognised; data rows are not headers", () => {
  assert.equal(corpusHeaderLayout(['id', 'text', 'title']), 'id,text,title');
  assert.equal(corpusHeaderLayout(['_id', 'title', 'text']), 'id,title,text');
  assert.equal(corpusHeaderLayout(['pid', 'passage']), 'id,text');
  assert.equal(corpusHeaderLayout(['1', 'Aachen', 'text']), null);
  assert.equal(corpusHeaderLayout(['id', 'text', 'text']), null);
});

test("real psgs_w100-layout TSV (header id text title) keeps working without --columns", async () => {
  const ps = await read(join(SHARED_DATA, 'wikipedia_psgs_w100/xorqa_collection_dpr_tsv_format.tsv'));
  assert.equal(ps.length, 6);
  assert.equal(ps[0].title, 'Kangxi Emperor');
});

test('convert msmarco --collection: a 3-column corpus.tsv is read as declared, refused when undeclared', async () => {
  const collection = file('marco-corpus.tsv', '10\tAachen\tAachen is a spa city.\n11\tBonn\tBonn is on the Rhine.\n');
  const queries = file('q.tsv', '1\twhat is aachen\n');
  const qrels = file('qrels.tsv', '1\t0\t10\t1\n');
  const passages: Passage[] = [];
  const records: { positive_ctxs: { title: string; text: string }[] }[] = [];
  await convertMsmarco({ collection, queries, qrels, columns: 'id,title,text' }, { passage: async (p) => void passages.push(p), record: async (r) => void records.push(r) });
  assert.deepEqual(passages[1], { passage_id: '11', title: 'Bonn', text: 'Bonn is on the Rhine.' });
  assert.equal(records[0].positive_ctxs[0].text, 'Aachen is a spa city.');
  await assert.rejects(
    convertMsmarco({ collection, queries, qrels }, { record: async () => {} }),
    (e: unknown) => e instanceof InputError && e.file === collection && /--columns/.test(e.message),
  );
});

test('every command that reads a corpus declares the same --columns option', () => {
  const readers = ['index.bm25', 'mine.bm25', 'mine.dense', 'encode', 'eval', 'convert.msmarco'];
  for (const id of readers) {
    const spec = commands.find((c) => c.id === id);
    assert.ok(spec, id);
    assert.deepEqual(spec.options.columns?.choices, ['id,text,title', 'id,title,text', 'id,text'], id);
  }
});
