import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readJsonLines, readLines } from '../../src/io/lines.ts';
import { InputError } from '../../src/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-lines-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// [case, file bytes, lines expected]
const cases: [string, Buffer, string[]][] = [
  ['LF', Buffer.from('a\nb\n'), ['a', 'b']],
  ['CRLF', Buffer.from('a\r\nb\r\n'), ['a', 'b']],
  ['no final newline', Buffer.from('a\nb'), ['a', 'b']],
  ['BOM dropped from the first line only', Buffer.from('\ufeffa\n\ufeffb\n'), ['a', '\ufeffb']],
  ['blank lines kept (callers skip them)', Buffer.from('a\n\nb\n'), ['a', '', 'b']],
  ['multi-byte UTF-8', Buffer.from('Röntgen\n拳闘\n'), ['Röntgen', '拳闘']],
  ['gzip, by magic bytes not name', gzipSync(Buffer.from('\ufeffx\r\ny\r\n')), ['x', 'y']],
];
for (const [name, bytes, expected] of cases) {
  test(`readLines: ${name}`, async () => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.txt`);
    writeFileSync(file, bytes);
    let raw = 0;
    const got: string[] = [];
    for await (const { lineNo, text } of readLines(file, (n) => (raw += n))) {
      assert.equal(lineNo, got.length + 1);
      got.push(text);
    }
    assert.deepEqual(got, expected);
    assert.equal(raw, bytes.length, 'raw bytes reported for progress');
  });
}

test('readLines: a directory is an InputError naming it', async () => {
  await assert.rejects(async () => {
    for await (const _ of readLines(dir));
  }, (e: unknown) => e instanceof InputError && e.file === dir && /not a regular file/.test(e.message));
});

test('readJsonLines: values with line numbers, blank lines skipped, a bad line named', async () => {
  const file = join(dir, 'values.jsonl');
  writeFileSync(file, '{"a":1}\n\n[2]\n{bad\n');
  const got: [number, string, unknown][] = [];
  await assert.rejects(async () => {
    for await (const { lineNo, where, value } of readJsonLines(file)) got.push([lineNo, where, value]);
  }, (e: unknown) => e instanceof InputError && e.file === file && e.record === 'line 4' && /invalid JSON/.test(e.message));
  assert.deepEqual(got, [[1, 'line 1', { a: 1 }], [3, 'line 3', [2]]]);
});
