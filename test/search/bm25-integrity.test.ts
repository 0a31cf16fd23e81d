/**
 * BM25 index integrity (issue 15): the same corpus gives the same index bytes in any workdir and
 * after a rerun (header.json records the corpus by content, never by path or mtime); every file of
 * the index is covered by header.json's sizes and sha256s, so a flipped or truncated file is
 * refused by name (exit 2, "rebuild ... dprep index bm25") instead of NaN scores or garbage ids.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bm25Index } from '../../src/search/bm25/index.ts';
import { FILES } from '../../src/search/bm25/format.ts';
import { InputError } from '../../src/util/errors.ts';
import { CLI, FIXTURES } from '../_paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-bm25-integrity-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const dprep = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120000 });
const STACK = /^\s+at /m;
const ALL_FILES = Object.values(FILES);

// One converted corpus and its records, shared by the tests below.
const base = join(tmp, 'base');
mkdirSync(base);
const converted = dprep(base, 'convert', 'squad', '--input', join(FIXTURES, 'squad', 'tiny-v2.json'), '--out', 'rec.jsonl', '--corpus', 'corpus.jsonl');
assert.equal(converted.status, 0, converted.stderr);
const CORPUS = join(base, 'corpus.jsonl');
const built = dprep(base, 'index', 'bm25', '--corpus', 'corpus.jsonl', '--out', 'good.bm25');
assert.equal(built.status, 0, built.stderr);
const GOOD = join(base, 'good.bm25');

function flipByte(path: string): void {
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2);
  bytes[at] ^= bytes[at] === 0x22 ? 0x01 : 0x20; // keep header.json a JSON document where the byte is a quote
  writeFileSync(path, bytes);
}

function damaged(name: string, damage: (path: string) => void): string {
  const dir = join(tmp, `damaged-${name}-${Math.random().toString(36).slice(2, 8)}`);
  cpSync(GOOD, dir, { recursive: true });
  damage(join(dir, name));
  return dir;
}

test('the same corpus in two workdirs, copied at other times, and a rerun give byte-identical index files', () => {
  const dirs = ['w1', 'w2'].map((w, i) => {
    const dir = join(tmp, w, 'deeper'.repeat(i));
    mkdirSync(dir, { recursive: true });
    copyFileSync(CORPUS, join(dir, 'corpus.jsonl'));
    utimesSync(join(dir, 'corpus.jsonl'), 1_000_000 + i * 5000, 1_000_000 + i * 5000);
    return dir;
  });
  for (const dir of dirs) {
    // Absolute paths, as a pipeline runner gives them: nothing of them may reach the index.
    const r = dprep(dir, 'index', 'bm25', '--corpus', join(dir, 'corpus.jsonl'), '--out', join(dir, 'idx'));
    assert.equal(r.status, 0, r.stderr);
  }
  // A rerun over the first (a kill-and-rerun rebuilds in place) after touching the corpus.
  utimesSync(join(dirs[0], 'corpus.jsonl'), 2_000_000, 2_000_000);
  const rerun = dprep(dirs[0], 'index', 'bm25', '--corpus', 'corpus.jsonl', '--out', 'idx');
  assert.equal(rerun.status, 0, rerun.stderr);
  const header = readFileSync(join(dirs[1], 'idx', FILES.header), 'utf8');
  assert.doesNotMatch(header, new RegExp(tmp), 'no absolute path in header.json');
  assert.doesNotMatch(header, /mtime/i);
  assert.deepEqual(JSON.parse(header).source, { file: 'corpus.jsonl', bytes: readFileSync(CORPUS).length, sha256: JSON.parse(readFileSync(join(GOOD, FILES.header), 'utf8')).source.sha256 });
  assert.deepEqual(readdirSync(join(dirs[0], 'idx')).sort(), [...ALL_FILES].sort());
  for (const f of ALL_FILES) {
    assert.ok(readFileSync(join(dirs[0], 'idx', f)).equals(readFileSync(join(dirs[1], 'idx', f))), `${f} differs between the two workdirs`);
    assert.ok(readFileSync(join(GOOD, f)).equals(readFileSync(join(dirs[1], 'idx', f))), `${f} differs from the first build`);
  }
});

test('header.json lists every other index file with its size and sha256', () => {
  const header = JSON.parse(readFileSync(join(GOOD, FILES.header), 'utf8'));
  assert.deepEqual(Object.keys(header.files).sort(), ALL_FILES.filter((f) => f !== FILES.header).sort());
  for (const [name, f] of Object.entries(header.files) as [string, { bytes: number; sha256: string }][]) {
    assert.equal(f.bytes, readFileSync(join(GOOD, name)).length, name);
    assert.match(f.sha256, /^[0-9a-f]{64}$/, name);
  }
  assert.match(header.checksum, /^[0-9a-f]{64}$/);
});

for (const name of ALL_FILES) {
  test(`a flipped byte in ${name} is refused, naming the file`, () => {
    const dir = damaged(name, flipByte);
    assert.throws(
      () => Bm25Index.open(dir),
      (e: unknown) => e instanceof InputError && e.file === join(dir, name) && /rebuild it with "dprep index bm25/.test(e.message),
    );
  });

  test(`a truncated ${name} is refused, naming the file, sizes checked even without hashes`, () => {
    const dir = damaged(name, (p) => truncateSync(p, Math.floor(readFileSync(p).length * 0.7)));
    for (const verify of [true, false]) {
      assert.throws(
        () => Bm25Index.open(dir, { verify }),
        (e: unknown) => e instanceof InputError && e.file === join(dir, name) && /dprep index bm25/.test(e.message),
        `verify ${verify}`,
      );
    }
  });
}

test('a missing index file is refused by name', () => {
  const dir = damaged(FILES.store, (p) => rmSync(p));
  assert.throws(() => Bm25Index.open(dir, { verify: false }), (e: unknown) => e instanceof InputError && e.file === join(dir, FILES.store) && /found no file/.test(e.message));
});

test('search bm25, mine bm25 and mine positives exit 2 on a damaged index (file named, how to rebuild, no stack); index bm25 replaces it', () => {
  writeFileSync(join(base, 'q.tsv'), 'q1\twho founded the university\n');
  const cases: [string, string, string[]][] = [
    [FILES.impacts, 'search', ['search', 'bm25', '--queries', 'q.tsv', '--out', 'run.trec']],
    [FILES.docs, 'mine bm25', ['mine', 'bm25', '--examples', 'rec.jsonl', '--out', 'mined.jsonl']],
    [FILES.store, 'mine bm25 --threads 2', ['mine', 'bm25', '--examples', 'rec.jsonl', '--out', 'mined.jsonl', '--threads', '2']],
    [FILES.pids, 'mine positives', ['mine', 'positives', '--examples', 'rec.jsonl', '--out', 'pos.jsonl']],
  ];
  for (const [file, what, args] of cases) {
    const dir = damaged(file, flipByte);
    const r = dprep(base, ...args, '--index', dir);
    assert.equal(r.status, 2, `${what}: ${r.stderr}`);
    assert.ok(r.stderr.includes(join(dir, file)), `${what} names ${file}: ${r.stderr}`);
    assert.match(r.stderr, /does not match header\.json.*rebuild it with "dprep index bm25 --corpus corpus\.jsonl/, what);
    assert.doesNotMatch(r.stderr, STACK, what);
  }
  // The advised rebuild works even when header.json itself is garbled.
  const dir = damaged(FILES.header, (p) => writeFileSync(p, readFileSync(p, 'utf8').slice(0, 40)));
  let r = dprep(base, 'search', 'bm25', '--index', dir, '--queries', 'q.tsv', '--out', 'run.trec');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /header\.json: not valid JSON/);
  r = dprep(base, 'index', 'bm25', '--corpus', 'corpus.jsonl', '--out', dir);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(join(dir, FILES.header)).equals(readFileSync(join(GOOD, FILES.header))));
});

test('mine bm25 refuses an existing index built from another corpus of the same size', () => {
  const text = readFileSync(CORPUS, 'utf8');
  const edited = text.replace(/the/, 'thE');
  assert.equal(edited.length, text.length);
  writeFileSync(join(base, 'edited.jsonl'), edited);
  let r = dprep(base, 'mine', 'bm25', '--examples', 'rec.jsonl', '--corpus', 'edited.jsonl', '--index', 'good.bm25', '--out', 'mined.jsonl');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /index good\.bm25 was built from another corpus \(corpus\.jsonl, \d+ bytes, sha256 [0-9a-f]{64}\) than --corpus edited\.jsonl/);
  assert.doesNotMatch(r.stderr, STACK);
  r = dprep(base, 'mine', 'bm25', '--examples', 'rec.jsonl', '--corpus', 'corpus.jsonl', '--index', 'good.bm25', '--out', 'mined.jsonl');
  assert.equal(r.status, 0, r.stderr);
});
