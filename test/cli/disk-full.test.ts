// A full disk (ENOSPC) or a read-only output directory (EROFS), issue 15: a clear error naming
// the output (exit 1 / 2), no half file under the final name, no temp left, the inputs
// untouched; the next run, with space, gives the bytes of a run that never failed.
//
// Two ways: a real tmpfs of a size too small for the outputs (mounted here when running as root;
// DPREP_REQUIRE_TMPFS=1, set by .ci/run, makes a failure to mount an error instead of a skip),
// and DPREP_TEST_WRITE_FAULT (atomic.ts's hook), which fails the atomic writers the same way
// without privileges and always runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CLI, FIXTURES } from '../_paths.ts';

const root = mkdtempSync(join(tmpdir(), 'dprep-diskfull-'));
const SQUAD = join(FIXTURES, 'quickstart', 'squad-mini-train.json');

function dprep(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DPREP_QUIET: '1', ...env }, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stderr: r.stderr };
}

function tree(dir: string): string[] {
  const out: string[] = [];
  (function walk(d: string) {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(relative(dir, p));
      if (statSync(p).isDirectory()) walk(p);
    }
  })(dir);
  return out.sort();
}
const files = (dir: string) => tree(dir).filter((p) => statSync(join(dir, p)).isFile());
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

// Inputs (outside the small disk) and, from the same commands on a roomy disk, the reference outputs.
const inputs = join(root, 'in');
mkdirSync(inputs);
for (const args of [
  ['convert', 'squad', '--input', SQUAD, '--out', 'train.jsonl', '--corpus', 'corpus.jsonl'],
  ['index', 'bm25', '--corpus', 'corpus.jsonl', '--out', 'idx'],
]) assert.equal(dprep(args, inputs).code, 0);
const INPUT_FILES = files(inputs).map((f) => join(inputs, f)).concat(SQUAD);
const inputHashes = () => INPUT_FILES.map(sha);
const before = inputHashes();

/** [name, the command with its outputs in `out`]: the commands whose outputs are records, a corpus, an index, a model. */
const CASES: [string, (out: string) => string[]][] = [
  ['convert squad', (o) => ['convert', 'squad', '--input', SQUAD, '--out', join(o, 'train.jsonl'), '--corpus', join(o, 'corpus.jsonl')]],
  ['index bm25', (o) => ['index', 'bm25', '--corpus', join(inputs, 'corpus.jsonl'), '--out', join(o, 'idx')]],
  ['mine bm25', (o) => ['mine', 'bm25', '--examples', join(inputs, 'train.jsonl'), '--index', join(inputs, 'idx'), '--out', join(o, 'mined.jsonl'), '--threads', '1']],
  ['init-model', (o) => ['init-model', '--config', join(FIXTURES, 'models', 'bert-tiny', 'config.json'), '--tokenizer', join(FIXTURES, 'models', 'bert-tiny'), '--out', join(o, 'model')]],
];

const reference = new Map<string, { dir: string; bytes: number }>();
for (const [name, args] of CASES) {
  const dir = join(root, 'ref', name.replace(' ', '-'));
  mkdirSync(dir, { recursive: true });
  const r = dprep(args(dir), root);
  assert.equal(r.code, 0, r.stderr);
  reference.set(name, { dir, bytes: files(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0) });
}

function assertSameAsReference(name: string, dir: string): void {
  const ref = reference.get(name)!.dir;
  assert.deepEqual(files(dir), files(ref), `${name}: the files of an uninterrupted run`);
  for (const f of files(ref)) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(ref, f))), `${name}: ${f} differs from an uninterrupted run`);
}

for (const [name, args] of CASES) {
  test(`injected ENOSPC: ${name} exits 1 naming its output, leaves nothing, inputs untouched; the rerun matches`, () => {
    const dir = join(root, 'inject', name.replace(' ', '-'));
    mkdirSync(dir, { recursive: true });
    const half = Math.floor(reference.get(name)!.bytes / 2);
    const r = dprep(args(dir), root, { DPREP_TEST_WRITE_FAULT: `ENOSPC@${half}` });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${dir}/[^:]+: no space left on the device \\(ENOSPC`));
    assert.doesNotMatch(r.stderr, /\.tmp-\d+|\n\s+at /, 'the message names the output, not a temp, and has no stack trace');
    assert.deepEqual(tree(dir), [], 'no half file, no temp');
    assert.deepEqual(inputHashes(), before, 'inputs untouched');
    const rerun = dprep(args(dir), root);
    assert.equal(rerun.code, 0, rerun.stderr);
    assertSameAsReference(name, dir);
  });
  test(`injected EROFS: ${name} exits 2 saying read-only, leaves nothing`, () => {
    const dir = join(root, 'inject-ro', name.replace(' ', '-'));
    mkdirSync(dir, { recursive: true });
    const r = dprep(args(dir), root, { DPREP_TEST_WRITE_FAULT: 'EROFS' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${dir}/[^:]+: read-only file system \\(EROFS`));
    assert.deepEqual(tree(dir), []);
    assert.deepEqual(inputHashes(), before);
  });
}

// A real small file system.
const mounts: string[] = [];
function mountTmpfs(dir: string, options: string): boolean {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) mounts.push(dir);
  return r.status === 0;
}
after(() => {
  for (const m of mounts.reverse()) spawnSync('umount', [m]);
  rmSync(root, { recursive: true, force: true });
});
const canMount = process.getuid?.() === 0 && mountTmpfs(join(root, 'probe'), 'size=64k');
const required = process.env.DPREP_REQUIRE_TMPFS === '1';
const noMount = canMount ? false : 'mounting a tmpfs needs root (CI runs these: DPREP_REQUIRE_TMPFS=1)';
if (required) test('tmpfs: a small tmpfs can be mounted here (DPREP_REQUIRE_TMPFS=1)', () => assert.ok(canMount, 'mount -t tmpfs failed: run as root'));

for (const [name, args] of CASES) {
  test(`tmpfs full: ${name} on a disk of half its output's size exits 1 naming the output, leaves the disk empty; with space the rerun matches`, { skip: required ? false : noMount }, () => {
    const dir = join(root, 'tmpfs', name.replace(' ', '-'));
    const size = Math.max(16, Math.floor(reference.get(name)!.bytes / 2 / 1024));
    assert.ok(mountTmpfs(dir, `size=${size}k`));
    const r = dprep(args(dir), root);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${dir}/[^:]+: no space left on the device \\(ENOSPC`));
    assert.doesNotMatch(r.stderr, /\.tmp-\d+|\n\s+at /);
    assert.deepEqual(tree(dir), [], 'the disk is left empty: no half file, no temp keeping it full');
    assert.deepEqual(inputHashes(), before, 'inputs untouched');
    assert.equal(spawnSync('mount', ['-o', 'remount,size=64m', dir]).status, 0);
    const rerun = dprep(args(dir), root);
    assert.equal(rerun.code, 0, rerun.stderr);
    assertSameAsReference(name, dir);
  });
  test(`tmpfs read-only: ${name} exits 2 saying read-only`, { skip: required ? false : noMount }, () => {
    const dir = join(root, 'tmpfs-ro', name.replace(' ', '-'));
    assert.ok(mountTmpfs(dir, 'size=1m,ro'));
    const r = dprep(args(dir), root);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${dir}[^:]*: read-only file system \\(EROFS`));
    assert.deepEqual(tree(dir), []);
    assert.deepEqual(inputHashes(), before);
  });
}
