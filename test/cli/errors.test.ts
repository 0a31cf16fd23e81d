import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES } from '../_paths.ts';

const SQUAD = join(FIXTURES, 'squad', 'tiny-v2.json');

const dir = mkdtempSync(join(tmpdir(), 'dprep-errors-'));
mkdirSync(join(dir, 'adir'));
writeFileSync(join(dir, 'afile'), 'x\n');
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 60000 });
const STACK = /^\s+at /m;

// [case, command line, exit, message] — errors a user causes: one line naming the path, no stack trace.
const CASES: [string, string, number, RegExp][] = [
  ['a directory given as an input file', 'convert squad --input adir --out o.jsonl', 2, /adir/],
  ['an input that does not exist', 'convert squad --input missing.json --out o.jsonl', 2, /missing\.json/],
  ['an output under a file', `convert squad --input ${SQUAD} --out afile/o.jsonl`, 2, /^dprep: dprep convert squad: afile: a file is where a directory is needed \(EEXIST, mkdir\)$/m],
  ['an output that is a directory', `convert squad --input ${SQUAD} --out adir`, 2, /adir/],
];
for (const [name, line, exit, message] of CASES) {
  test(`errors: ${name} gives one message and exit ${exit}, no stack trace`, () => {
    const r = dprep(...line.split(' '));
    assert.equal(r.status, exit, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, STACK, r.stderr);
  });
}

test('errors: --debug prints the stack trace of a failed system call', () => {
  const r = dprep('convert', 'squad', '--input', SQUAD, '--out', 'afile/o.jsonl', '--debug');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /EEXIST/);
  assert.match(r.stderr, STACK, r.stderr);
});
