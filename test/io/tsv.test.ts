import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTsvField, parseTsvRecord, readTsv } from '../../src/io/tsv.ts';
import { InputError } from '../../src/util/errors.ts';
import { SHARED_DATA } from '../_paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-tsv-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// [line, fields as Python's csv.reader(delimiter='\t') returns them; null: the quoted field goes on]
const records: [string, string[] | null][] = [
  ['a\tb', ['a', 'b']],
  ['a', ['a']],
  ['', ['']],
  ['a\t\tc\t', ['a', '', 'c', '']],
  ['"a\tb"\tc', ['a\tb', 'c']],
  ['"say ""hi"""\tx', ['say "hi"', 'x']],
  [`q\t"['Solange Knowles', ""Destiny 's Child""]"`, ['q', `['Solange Knowles', "Destiny 's Child"]`]],
  ['"""quoted question"""\t[]', ['"quoted question"', '[]']],
  ['"ab"cd\te', ['abcd', 'e']], // text after a closing quote stays in the field
  ['a"b\tc', ['a"b', 'c']], // a quote inside an unquoted field is data
  ['"open', null],
  ['"two ""', null],
];
for (const [line, expected] of records) {
  test(`parseTsvRecord(${JSON.stringify(line)})`, () => assert.deepEqual(parseTsvRecord(line), expected));
}

// [value, as Python's csv.writer(delimiter='\t', QUOTE_MINIMAL) writes it]
const fields: [string, string][] = [
  ['plain', 'plain'],
  ['', ''],
  ["it's", "it's"],
  ['say "hi"', '"say ""hi"""'],
  ['a\tb', '"a\tb"'],
  ['two\nlines', '"two\nlines"'],
  ['cr\r', '"cr\r"'],
];
for (const [value, expected] of fields) {
  test(`formatTsvField(${JSON.stringify(value)})`, () => assert.equal(formatTsvField(value), expected));
}

// Python's csv.writer wrote these files (CRLF, QUOTE_MINIMAL). Reading every record and writing it back
// must give the same bytes: proves parsing and quoting agree with Python's csv on real data.
const realFiles: [string, string, number][] = [
  ['nq/dpr_qa_tsv/topics.dpr.nq.test.txt', '\r\n', 3610],
  ['nq/dpr_qa_tsv/topics.dpr.nq.dev.txt', '\r\n', 8757],
  ['nq/dpr_qa_tsv/topics.dpr.trivia.test.txt', '\r\n', 11313],
  ['nq/dpr_qa_tsv/topics.dpr.trivia.dev.txt', '\r\n', 8837],
  ['wikipedia_psgs_w100/xorqa_collection_dpr_tsv_format.tsv', '\n', 7],
];
for (const [name, eol, count] of realFiles) {
  test(`readTsv round trip is byte-identical: ${name}`, async () => {
    const file = join(SHARED_DATA, name);
    let out = '';
    let n = 0;
    for await (const { fields: row } of readTsv(file)) {
      out += row.map(formatTsvField).join('\t') + eol;
      n++;
    }
    assert.equal(n, count);
    assert.equal(out, readFileSync(file, 'utf8'));
  });
}

test('readTsv: quotes inside unquoted fields are data (pyserini topics.nq.test.txt, not csv-written)', async () => {
  let n = 0;
  for await (const { fields: row } of readTsv(join(SHARED_DATA, 'nq/dpr_qa_tsv/topics.nq.test.txt'))) {
    assert.equal(row.length, 2);
    assert.match(row[1], /^\[.*\]$/);
    n++;
  }
  assert.equal(n, 3610);
});

test('readTsv: a quoted field spanning lines is one record starting at its first line', async () => {
  const file = join(dir, 'multi.tsv');
  writeFileSync(file, 'id\ttext\n1\t"first\nsecond"\n2\tthird\n');
  const rows = [];
  for await (const r of readTsv(file)) rows.push(r);
  assert.deepEqual(rows, [
    { lineNo: 1, fields: ['id', 'text'] },
    { lineNo: 2, fields: ['1', 'first\nsecond'] },
    { lineNo: 4, fields: ['2', 'third'] },
  ]);
});

test('readTsv: an unterminated quote at end of file names the line it opened on', async () => {
  const file = join(dir, 'open.tsv');
  writeFileSync(file, 'a\tb\n"never closed\tx\n');
  await assert.rejects(async () => {
    for await (const _ of readTsv(file));
  }, (e: unknown) => e instanceof InputError && e.record === 'line 2' && /unterminated/.test(e.message));
});
