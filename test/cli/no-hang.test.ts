import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../_paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-hang-'));
writeFileSync(join(dir, 'c.jsonl'), ['a', 'b', 'c'].map((id) => JSON.stringify({ passage_id: id, title: 't', text: `hello world ${id}` })).join('\n') + '\n');
const record = { question: 'hello?', answers: ['world'], positive_ctxs: [{ passage_id: 'a', title: 't', text: 'hello world a' }], negative_ctxs: [], hard_negative_ctxs: [] };
writeFileSync(join(dir, 'ex.jsonl'), JSON.stringify(record) + '\n');
writeFileSync(join(dir, 'q.tsv'), 'q1\thello\n');
mkdirSync(join(dir, 'a-dir'));
mkdirSync(join(dir, 'dir.jsonl'));
const index = spawnSync(process.execPath, [CLI, 'index', 'bm25', '--corpus', 'c.jsonl', '--out', 'idx', '--threads', '2'], { cwd: dir, encoding: 'utf8' });
assert.equal(index.status, 0, index.stderr);

// [command line, what the message says] — each used to print its error and never exit (issue 15).
const CASES: [string, RegExp][] = [
  ['mine bm25 --examples ex.jsonl --corpus c.jsonl --out x.jsonl.tmp --threads 2', /cannot tell the format from the extension "\.tmp"/],
  ['mine bm25 --examples ex.jsonl --index idx --out x.jsonl.tmp --threads 2', /cannot tell the format/],
  ['mine bm25 --examples ex.jsonl --corpus c.jsonl --out dir.jsonl --threads 2', /dir\.jsonl/],
  ['search bm25 --index idx --queries q.tsv --out a-dir --threads 2', /a-dir/],
];
for (const [line, message] of CASES) {
  test(`no hang: dprep ${line} exits with its error within seconds and leaves no temp files`, () => {
    const before = readdirSync(dir).sort();
    const t0 = Date.now();
    // A hang is forever; 90 s only bounds the test (a fresh clone's run at load 11 took 15–21 s to fail properly).
    const r = spawnSync(process.execPath, [CLI, ...line.split(' ')], { cwd: dir, encoding: 'utf8', timeout: 90_000 });
    // spawnSync's timeout sends SIGTERM; the CLI handles it (removes its temps) and exits 143.
    assert.ok(r.signal !== 'SIGTERM' && r.status !== 143, `killed after ${Date.now() - t0} ms: it hung\n${r.stderr}`);
    assert.ok(r.status === 1 || r.status === 2, `exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.deepEqual(readdirSync(dir).sort(), before, 'temp files or dirs left behind');
    assert.deepEqual(readdirSync(join(dir, 'a-dir')), []);
  });
}
