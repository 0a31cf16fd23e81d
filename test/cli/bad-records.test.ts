// Bad records mid-stream (issue 15), table-driven through the real CLI: each stops the command
// with exit 2 and a message naming file, line or record, and field; with --skip-bad each is left
// out and counted with its reason, never dropped silently. A BOM and CRLF line ends are not bad.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../_paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-bad-'));
function dprep(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, DPREP_QUIET: '1' }, encoding: 'utf8', timeout: 180_000, maxBuffer: 1 << 26 });
  return { code: r.status, stderr: r.stderr };
}

const passage = (i: number) => ({ passage_id: `p${i}`, title: `Title ${i}`, text: `word${i} is the answer to question ${i} about common things` });
const record = (i: number) => ({ question: `which word ${i} common`, answers: [`word${i}`], positive_ctxs: [passage(i)], negative_ctxs: [], hard_negative_ctxs: [] });
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

// A good corpus and its index, for the record cases.
writeFileSync(join(dir, 'good.jsonl'), jsonl(Array.from({ length: 100 }, (_, i) => passage(i))));
assert.equal(dprep(['index', 'bm25', '--corpus', 'good.jsonl', '--out', 'good.idx', '--threads', '1']).code, 0);

const docsOf = (idx: string) => (JSON.parse(readFileSync(join(dir, idx, 'header.json'), 'utf8')) as { docs: number }).docs;
type Account = { read: number; converted: number; skipped: Record<string, number>; examples: Record<string, string[]> };
// mine bm25 accounts in <out>.mining.json (records), the other miners in <out>.summary.json.
const mining = (out: string) => JSON.parse(readFileSync(join(dir, `${out}.mining.json`), 'utf8')) as { records: Account };
const account = (args: string[], out: string): Account => (args[1] === 'bm25' ? mining(out).records : (JSON.parse(readFileSync(join(dir, `${out}.summary.json`), 'utf8')) as Account));

interface Case {
  name: string;
  /** Writes the input; returns the command (without --skip-bad). */
  make: () => string[];
  /** What the stopping message says (file, record, field). */
  message: RegExp;
  /** With --skip-bad: the reason counted once, and a check of what was kept. */
  reason: string;
  kept: (out: string) => void;
}

const CASES: Case[] = [
  {
    name: 'invalid JSON at line 3,000 of a corpus',
    make: () => {
      const lines = Array.from({ length: 4000 }, (_, i) => JSON.stringify(passage(i)));
      lines[2999] = '{"passage_id": "p2999", "text": "unterminated';
      writeFileSync(join(dir, 'c3000.jsonl'), lines.join('\n') + '\n');
      return ['index', 'bm25', '--corpus', 'c3000.jsonl', '--out', 'c3000.idx', '--threads', '1'];
    },
    message: /c3000\.jsonl, line 3000: invalid JSON/,
    reason: 'bad record: invalid JSON',
    kept: () => assert.equal(docsOf('c3000.idx'), 3999),
  },
  {
    name: 'a truncated last element of a DPR JSON array',
    make: () => {
      const text = '[\n' + [0, 1, 2].map((i) => JSON.stringify(record(i))).join(',\n') + ',\n' + JSON.stringify(record(3)).slice(0, 40);
      writeFileSync(join(dir, 'trunc.json'), text);
      return ['mine', 'bm25', '--examples', 'trunc.json', '--index', 'good.idx', '--out', 'trunc.out.jsonl', '--threads', '1', '--depth', '10'];
    },
    message: /trunc\.json, record \[3\]: truncated JSON: the file ends inside this record/,
    reason: 'bad record: truncated JSON: the file ends inside this record',
    kept: (out) => {
      const m = mining(out);
      assert.equal(m.records.read, 4);
      assert.equal(m.records.converted, 3);
      assert.deepEqual(m.records.examples['bad record: truncated JSON: the file ends inside this record'], [`trunc.json, record [3]`]);
    },
  },
  {
    name: 'a TSV row with the wrong column count',
    make: () => {
      const rows = ['id\ttext\ttitle', ...Array.from({ length: 80 }, (_, i) => `p${i}\tword${i} text\tTitle ${i}`)];
      rows[50] = 'p49b\tonly two fields';
      writeFileSync(join(dir, 'cols.tsv'), rows.join('\n') + '\n');
      return ['index', 'bm25', '--corpus', 'cols.tsv', '--out', 'cols.idx', '--threads', '1'];
    },
    message: /cols\.tsv, line 51: expected 3 \(id, text, title\) tab-separated fields, got 2/,
    reason: 'bad record: expected 3 (id, text, title) tab-separated fields',
    kept: () => assert.equal(docsOf('cols.idx'), 79),
  },
  {
    name: 'invalid UTF-8 in a corpus line',
    make: () => {
      const lines = Array.from({ length: 20 }, (_, i) => Buffer.from(JSON.stringify(passage(i)) + '\n'));
      lines[6] = Buffer.concat([Buffer.from('{"passage_id": "p6", "text": "caf'), Buffer.from([0xff, 0xe9]), Buffer.from('"}\n')]);
      writeFileSync(join(dir, 'utf8.jsonl'), Buffer.concat(lines));
      return ['index', 'bm25', '--corpus', 'utf8.jsonl', '--out', 'utf8.idx', '--threads', '1'];
    },
    message: /utf8\.jsonl, line 7: invalid UTF-8 \(byte 0xff at byte 34\)/,
    reason: 'bad record: invalid UTF-8',
    kept: () => assert.equal(docsOf('utf8.idx'), 19),
  },
  {
    name: 'invalid UTF-8 inside an element of a DPR JSON array',
    make: () => {
      const good = [0, 1, 2, 3].map((i) => Buffer.from(JSON.stringify(record(i))));
      good[2] = Buffer.concat([Buffer.from('{"question": "bad '), Buffer.from([0xc3, 0x28]), Buffer.from('", "answers": ["word2"], "positive_ctxs": []}')]);
      writeFileSync(join(dir, 'utf8.json'), Buffer.concat([Buffer.from('[\n'), ...good.flatMap((b, i) => (i ? [Buffer.from(',\n'), b] : [b])), Buffer.from('\n]\n')]));
      return ['mine', 'bm25', '--examples', 'utf8.json', '--index', 'good.idx', '--out', 'utf8.out.jsonl', '--threads', '1', '--depth', '10'];
    },
    message: /utf8\.json, record \[2\]: invalid UTF-8 \(byte 0xc3 at byte 19\)/,
    reason: 'bad record: invalid UTF-8',
    kept: (out) => assert.equal(mining(out).records.converted, 3),
  },
  {
    name: 'a wrong field type in a JSON-lines record',
    make: () => {
      const rows: unknown[] = [0, 1, 2, 3, 4].map(record);
      rows[3] = { ...record(3), answers: 'word3' };
      writeFileSync(join(dir, 'field.jsonl'), jsonl(rows));
      return ['mine', 'bm25', '--examples', 'field.jsonl', '--index', 'good.idx', '--out', 'field.out.jsonl', '--threads', '1', '--depth', '10'];
    },
    message: /field\.jsonl, line 4, field "answers": expected an array of strings/,
    reason: 'bad record: field "answers": expected an array of strings',
    kept: (out) => assert.equal(mining(out).records.converted, 4),
  },
  {
    name: 'invalid JSON in the records of mine positives',
    make: () => {
      const rows = [0, 1, 2, 3].map((i) => JSON.stringify({ question: `which word ${i} common`, answers: [`word${i}`] }));
      rows[2] = '{"question": "which word 2", "answers": ["word2"]';
      writeFileSync(join(dir, 'pos.jsonl'), rows.join('\n') + '\n');
      return ['mine', 'positives', '--examples', 'pos.jsonl', '--index', 'good.idx', '--out', 'pos.out.jsonl', '--threads', '1', '--depth', '10'];
    },
    message: /pos\.jsonl, line 3: invalid JSON/,
    reason: 'bad record: invalid JSON',
    kept: (out) => assert.deepEqual([account(['mine', 'positives'], out).read, account(['mine', 'positives'], out).converted], [4, 3]),
  },
  {
    name: 'a 50 MB line with a wrong field',
    make: () => {
      const lines = [0, 1, 2].map((i) => JSON.stringify(passage(i)));
      lines.splice(1, 0, JSON.stringify({ passage_id: 'huge', text: 42, pad: 'x'.repeat(50 << 20) }));
      writeFileSync(join(dir, 'huge.jsonl'), lines.join('\n') + '\n');
      return ['index', 'bm25', '--corpus', 'huge.jsonl', '--out', 'huge.idx', '--threads', '1'];
    },
    message: /huge\.jsonl, line 2, field "text": expected a string/,
    reason: 'bad record: field "text": expected a string',
    kept: () => assert.equal(docsOf('huge.idx'), 3),
  },
];

for (const c of CASES) {
  test(`bad record: ${c.name} — exit 2 naming it; --skip-bad counts it with its reason`, () => {
    const args = c.make();
    const out = args[args.indexOf('--out') + 1];
    const stopped = dprep(args);
    assert.equal(stopped.code, 2, stopped.stderr);
    assert.match(stopped.stderr, c.message);
    assert.ok(stopped.stderr.length < 2000, `a short message, not the record (${stopped.stderr.length} chars)`);
    assert.doesNotMatch(stopped.stderr, /\n\s+at /, 'no stack trace');

    const skipped = dprep([...args, '--skip-bad']);
    assert.equal(skipped.code, 0, skipped.stderr);
    if (args[0] === 'index') {
      // The log counts it: "skipped 1 bad passages (--skip-bad):" then "1  <reason> (e.g. <file>, <line>)".
      assert.match(skipped.stderr, /skipped 1 bad passages \(--skip-bad\)/);
      assert.ok(skipped.stderr.includes(`       1  ${c.reason}`), skipped.stderr);
    } else {
      const m = account(args, out);
      const counted = Object.entries(m.skipped).filter(([reason]) => reason.startsWith('bad record'));
      assert.deepEqual(counted, [[c.reason, 1]]);
      assert.equal(m.read, m.converted + Object.values(m.skipped).reduce((a, b) => a + b, 0), 'read = converted + skipped');
    }
    c.kept(out);
  });
}

test('a BOM and CRLF line ends are read as plain lines, not bad records', () => {
  const rows = [0, 1, 2, 3].map((i) => JSON.stringify(record(i)));
  writeFileSync(join(dir, 'crlf.jsonl'), '\ufeff' + rows.join('\r\n') + '\r\n');
  const r = dprep(['mine', 'bm25', '--examples', 'crlf.jsonl', '--index', 'good.idx', '--out', 'crlf.out.jsonl', '--threads', '1', '--depth', '10']);
  assert.equal(r.code, 0, r.stderr);
  const out = readFileSync(join(dir, 'crlf.out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string });
  assert.deepEqual(out.map((o) => o.question), [0, 1, 2, 3].map((i) => record(i).question));
  const tsv = ['\ufeffid\ttext\ttitle', 'p0\tword0 text\tTitle 0', 'p1\t"quoted\r\nacross lines"\tTitle 1'].join('\r\n') + '\r\n';
  writeFileSync(join(dir, 'crlf.tsv'), tsv);
  const idx = dprep(['index', 'bm25', '--corpus', 'crlf.tsv', '--out', 'crlf.idx', '--threads', '1']);
  assert.equal(idx.code, 0, idx.stderr);
  assert.equal(docsOf('crlf.idx'), 2);
});
