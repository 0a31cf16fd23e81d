/**
 * Records mined against another conversion's corpus (issue 15): passage ids repeat between
 * conversions (`squad2-0` of one is another paragraph in the next), so mine bm25, mine dense and
 * mine positives check every positive against the corpus's passage of that id by normalized text
 * and title, and refuse a mismatch naming the record, the field and the id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPositivesAgainstCorpus } from '../../src/miners/positive-check.ts';
import { InputError } from '../../src/util/errors.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { CLI, FIXTURES } from '../_paths.ts';

const record = (title: string, text: string): DprRecord =>
  ({ dataset: 'squad1', question: 'q', answers: ['a'], positive_ctxs: [{ title, text, passage_id: 'squad1-3' }], negative_ctxs: [], hard_negative_ctxs: [] }) as DprRecord;
const CORPUS: Passage = { passage_id: 'squad1-3', title: 'Super Bowl 50', text: 'Super Bowl 50 was an American football game.' };

const TABLE: { what: string; title: string; text: string; field?: string }[] = [
  { what: 'the same passage', title: 'Super Bowl 50', text: 'Super Bowl 50 was an American football game.' },
  { what: 'other whitespace and case', title: 'super bowl  50', text: ' Super Bowl 50 was an\namerican football game. ' },
  { what: 'another composition of the same Unicode text', title: 'Super Bowl 50', text: 'Super Bowl 50 was an American football game.'.normalize('NFD') },
  { what: 'another text', title: 'Super Bowl 50', text: 'Beyoncé Giselle Knowles-Carter is an American singer.', field: 'positive_ctxs[0].text' },
  { what: 'another title', title: 'Beyoncé', text: 'Super Bowl 50 was an American football game.', field: 'positive_ctxs[0].title' },
];

for (const c of TABLE) {
  test(`checkPositivesAgainstCorpus: ${c.what} ${c.field ? 'is refused' : 'passes'}`, () => {
    const check = () => checkPositivesAgainstCorpus(record(c.title, c.text), 'line 7', 'train.jsonl', 'corpus.jsonl', (id) => (id === CORPUS.passage_id ? CORPUS : undefined));
    if (!c.field) return check();
    assert.throws(check, (e: unknown) => e instanceof InputError && e.file === 'train.jsonl' && e.record === 'line 7' && e.field === c.field && /passage "squad1-3" is .* here but .* in corpus\.jsonl: the records and the corpus come from different conversions/.test(e.message));
  });
}

test('checkPositivesAgainstCorpus: a positive the corpus lacks is left to the caller', () => {
  checkPositivesAgainstCorpus(record('x', 'y'), 'line 1', 'train.jsonl', 'corpus.jsonl', () => undefined);
});

const tmp = mkdtempSync(join(tmpdir(), 'dprep-positive-check-'));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 180000 });
const STACK = /^\s+at /m;

test('mine bm25, mine dense and mine positives refuse records of another conversion with the same passage ids; their own corpus passes', () => {
  // Conversion A, and conversion B of the same file with its articles in the other order: the same ids, other paragraphs.
  const squad = JSON.parse(readFileSync(join(FIXTURES, 'squad', 'tiny-v2.json'), 'utf8'));
  writeFileSync(join(tmp, 'reordered.json'), JSON.stringify({ ...squad, data: [...squad.data].reverse() }));
  assert.equal(dprep('convert', 'squad', '--input', join(FIXTURES, 'squad', 'tiny-v2.json'), '--out', 'a.jsonl', '--corpus', 'a.corpus.jsonl').status, 0);
  assert.equal(dprep('convert', 'squad', '--input', 'reordered.json', '--out', 'b.jsonl', '--corpus', 'b.corpus.jsonl').status, 0);
  const idsA = readFileSync(join(tmp, 'a.corpus.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).passage_id);
  const idsB = readFileSync(join(tmp, 'b.corpus.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).passage_id);
  assert.deepEqual(idsA, idsB, 'the two conversions use the same ids');
  const TINY = join(FIXTURES, 'models', 'bert-tiny');
  assert.equal(dprep('init-model', '--config', join(TINY, 'config.json'), '--vocab', TINY, '--out', 'm', '--seed', '1').status, 0);
  for (const c of ['a', 'b']) assert.equal(dprep('encode', '--model', 'm', '--corpus', `${c}.corpus.jsonl`, '--out', `${c}.emb`).status, 0);

  const runs: [string, (c: string) => string[]][] = [
    ['mine bm25', (c) => ['mine', 'bm25', '--examples', 'a.jsonl', '--corpus', `${c}.corpus.jsonl`, '--out', `bm25-${c}.jsonl`, '--negatives', '1']],
    ['mine dense', (c) => ['mine', 'dense', '--query-model', 'm', '--embeddings', `${c}.emb`, '--examples', 'a.jsonl', '--corpus', `${c}.corpus.jsonl`, '--out', `dense-${c}.jsonl`, '--negatives', '1']],
    ['mine positives', (c) => ['mine', 'positives', '--examples', 'a.jsonl', '--corpus', `${c}.corpus.jsonl`, '--out', `pos-${c}.jsonl`]],
  ];
  for (const [name, args] of runs) {
    let r = dprep(...args('a'));
    assert.equal(r.status, 0, `${name} on its own corpus: ${r.stderr}`);
    r = dprep(...args('b'));
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /a\.jsonl, line 1, field "positive_ctxs\[0\]\.(text|title)": passage "squad2-\d+" is ".*" here but ".*" in b\.corpus\.jsonl: the records and the corpus come from different conversions/, name);
    assert.doesNotMatch(r.stderr, STACK, name);
  }
});
