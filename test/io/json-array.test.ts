import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readJsonArray, scanJsonArray } from '../../src/io/json-array.ts';
import { InputError } from '../../src/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-json-array-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(chunks: Iterable<Buffer>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const { index, value } of scanJsonArray(chunks, 'mem.json')) {
    assert.equal(index, out.length, 'indexes count up from 0');
    out.push(value);
  }
  return out;
}

/** Every way of cutting `bytes` into 3 pieces at 2 cut points (and into 1-byte pieces). */
function* chunkings(bytes: Buffer): Generator<Buffer[]> {
  yield [bytes];
  yield [...bytes].map((b) => Buffer.from([b]));
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b += Math.max(1, Math.floor(bytes.length / 7))) {
      yield [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
    }
  }
}

// [case, file content, expected elements] — valid arrays; each is also cut at every position.
const valid: [string, string | Buffer, unknown[]][] = [
  ['empty array', '[]', []],
  ['empty array with whitespace', ' \r\n\t[ \r\n ]\r\n', []],
  ['objects', '[{"a":1},{"b":2}]', [{ a: 1 }, { b: 2 }]],
  ['scalars', '[1, -2.5e3, true, false, null, "x"]', [1, -2500, true, false, null, 'x']],
  ['single scalar', '[42]', [42]],
  ['nested arrays', '[[1,[2,[3]]],{"a":[{"b":[]}]},[]]', [[1, [2, [3]]], { a: [{ b: [] }] }, []]],
  ['CRLF between elements', '[\r\n  {"a":1},\r\n  {"a":2}\r\n]\r\n', [{ a: 1 }, { a: 2 }]],
  ['brackets and braces inside strings', '[{"t":"]}[{,"},"]"]', [{ t: ']}[{,' }, ']']],
  ['escaped quotes and backslashes', String.raw`[{"t":"say \"hi\" \\"},"\\","\\\""]`, [{ t: 'say "hi" \\' }, '\\', '\\"']],
  ['unicode escapes of structural chars', String.raw`["\u005d\u007d\u0022", "\u00e9\ud83d\ude00"]`, [']}"', 'é😀']],
  ['raw multi-byte UTF-8', '["Röntgen 拳闘 😀", {"ar":"القاهرة"}]', ['Röntgen 拳闘 😀', { ar: 'القاهرة' }]],
  ['UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":"b"}]')]), [{ a: 'b' }]],
  ['BOM then whitespace', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('\r\n[1]')]), [1]],
];

for (const [name, content, expected] of valid) {
  test(`scanJsonArray: ${name}, any chunking`, async () => {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
    for (const chunks of chunkings(bytes)) {
      assert.deepEqual(await collect(chunks), expected, `chunks ${chunks.map((c) => c.length).join('+')}`);
    }
  });
}

// [case, file content, error text that must appear, record named (undefined: none)]
const invalid: [string, string, RegExp, string | undefined][] = [
  ['empty file', '', /empty file/, undefined],
  ['whitespace only', ' \n ', /empty file/, undefined],
  ['not an array', '{"a":1}', /JSON array/, undefined],
  ['truncated inside a string', '[{"a":1},{"b":"tex', /truncated.*inside this record/, 'record [1]'],
  ['truncated inside an object', '[{"a":1},{"b":[1,2', /truncated.*inside this record/, 'record [1]'],
  ['truncated after a comma', '[{"a":1},', /not closed/, 'record [1]'],
  ['truncated after an element', '[{"a":1}', /not closed/, 'record [1]'],
  ['truncated scalar', '[1, 2', /inside this record/, 'record [1]'],
  ['trailing garbage', '[{"a":1}] x', /after the closing/, undefined],
  ['second array', '[1][2]', /after the closing/, undefined],
  ['trailing comma', '[1,]', /unexpected "\]"/, 'record [1]'],
  ['leading comma', '[,1]', /unexpected ","/, 'record [0]'],
  ['missing comma', '[{"a":1} {"a":2}]', /unexpected "\{"/, 'record [1]'],
  ['invalid element', '[{"a":1},{"a":}]', /invalid JSON/, 'record [1]'],
  ['two scalars without comma', '[1 2]', /invalid JSON/, 'record [0]'],
  ['unbalanced close', '[{"a":1}}]', /unexpected "\}"/, 'record [1]'],
];

for (const [name, content, message, record] of invalid) {
  test(`scanJsonArray rejects: ${name}`, async () => {
    for (const chunks of [[Buffer.from(content)], [...Buffer.from(content)].map((b) => Buffer.from([b]))]) {
      await assert.rejects(collect(chunks), (err: unknown) => {
        assert.ok(err instanceof InputError, String(err));
        assert.match(err.message, message);
        assert.equal(err.file, 'mem.json');
        assert.equal(err.record, record);
        return true;
      });
    }
  });
}

test('scanJsonArray yields elements before the end of input (streams)', async () => {
  let fed = 0;
  async function* chunks() {
    yield Buffer.from('[{"a":1},');
    fed = 1;
    yield Buffer.from('{"a":2}]');
    fed = 2;
  }
  const gen = scanJsonArray(chunks(), 'mem');
  const first = await gen.next();
  assert.deepEqual(first.value, { index: 0, value: { a: 1 } });
  assert.equal(fed, 0, 'the first element came out before the second chunk was read');
});

test('readJsonArray: elements crossing the 1 MiB read-chunk edge, escape split at the edge', async () => {
  const MiB = 1 << 20;
  // Place a backslash as the last byte of the first 1 MiB read so its escaped quote starts the next read,
  // and a multi-byte character straddling the second edge.
  const head = '[{"t":"';
  const pad1 = 'a'.repeat(MiB - Buffer.byteLength(head) - 1);
  const first = `${head}${pad1}\\"q"},`; // the backslash is byte MiB-1
  const before2 = Buffer.byteLength(first) + Buffer.byteLength('{"t":"');
  const pad2 = 'b'.repeat(2 * MiB - before2 - 1);
  const content = `${first}{"t":"${pad2}é"},{"t":"end"}]`; // é (2 bytes) starts at byte 2 MiB - 1
  assert.equal(Buffer.from(content)[MiB - 1], 0x5c);
  assert.equal(Buffer.from(content)[2 * MiB - 1], 0xc3);
  const file = join(dir, 'edges.json');
  writeFileSync(file, content);
  const got: unknown[] = [];
  for await (const { value } of readJsonArray(file)) got.push(value);
  assert.deepEqual(got, [{ t: `${pad1}"q` }, { t: `${pad2}é` }, { t: 'end' }]);
});

test('readJsonArray: gzip input detected by magic bytes, raw byte counts reported', async () => {
  const file = join(dir, 'records.json.gz');
  const gz = gzipSync(Buffer.from('[{"question":"q","answers":["a"]}]'));
  writeFileSync(file, gz);
  let raw = 0;
  const got: unknown[] = [];
  for await (const { value } of readJsonArray(file, (n) => (raw += n))) got.push(value);
  assert.deepEqual(got, [{ question: 'q', answers: ['a'] }]);
  assert.equal(raw, gz.length);
});

test('readJsonArray: a missing file is an InputError naming it', async () => {
  const file = join(dir, 'nope.json');
  await assert.rejects(async () => {
    for await (const _ of readJsonArray(file));
  }, (err: unknown) => err instanceof InputError && err.file === file && /cannot read/.test(err.message));
});
