import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { convertMsmarco, parseNegativesLine, parseQrelsLine, type MsmarcoConvertOptions } from '../../src/converters/msmarco.ts';
import { InputError } from '../../src/util/errors.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { CLI, FIXTURES, REPO_ROOT } from '../_paths.ts';

process.env.DPREP_QUIET = '1';
const DIR = join(FIXTURES, 'msmarco');
const GOLDEN = join(DIR, 'golden');
const fx = (name: string) => join(DIR, name);

const readJsonl = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

async function convert(opts: Partial<MsmarcoConvertOptions>) {
  const records: DprRecord[] = [];
  const passages: Passage[] = [];
  const summary = await convertMsmarco(
    { collection: fx('collection.tsv'), queries: fx('queries.tsv'), qrels: fx('qrels.trec.txt'), ...opts },
    { passage: async (p) => void passages.push(p), record: async (r) => void records.push(r) },
  );
  return { records, passages, summary };
}

// [layout, line, expected]
const qrelsLines: [string, string, ReturnType<typeof parseQrelsLine>][] = [
  ['TREC with 0', '19335 0 1720389 1', { qid: '19335', pid: '1720389', rel: 1 }],
  ['TREC with Q0, graded', '19335 Q0 1017759 3', { qid: '19335', pid: '1017759', rel: 3 }],
  ['TSV three columns', '19335\t1720389\t2', { qid: '19335', pid: '1720389', rel: 2 }],
  ['TSV four columns', '1102432\t0\t2026790\t1', { qid: '1102432', pid: '2026790', rel: 1 }],
  ['zero relevance', '19335 Q0 109063 0', { qid: '19335', pid: '109063', rel: 0 }],
  ['CRLF remnant and extra spaces', '  3  0  7  1\r', { qid: '3', pid: '7', rel: 1 }],
  ['string ids (BEIR)', 'q-1\t<dbpedia:Oceanic_Airlines>\t2', { qid: 'q-1', pid: '<dbpedia:Oceanic_Airlines>', rel: 2 }],
  ['blank', '   ', null],
];
for (const [name, line, expected] of qrelsLines) {
  test(`parseQrelsLine: ${name}`, () => assert.deepEqual(parseQrelsLine(line), expected));
}

test('parseQrelsLine rejects lines with the wrong shape', () => {
  for (const bad of ['1 2', '1 0 2 x', '1 0 2 3 4']) assert.throws(() => parseQrelsLine(bad), Error, bad);
});

// [layout, line, expected]
const negativeLines: [string, string, ReturnType<typeof parseNegativesLine>][] = [
  ['comma list', '3\t10,11,12', { qid: '3', pids: ['10', '11', '12'] }],
  ['single pid', '3\t10', { qid: '3', pids: ['10'] }],
  ['qidpidtriples', '3\t7\t12', { qid: '3', pids: ['12'] }],
  ['blank', '', null],
];
for (const [name, line, expected] of negativeLines) {
  test(`parseNegativesLine: ${name}`, () => assert.deepEqual(parseNegativesLine(line), expected));
}

test('parseNegativesLine refuses text triples and odd shapes', () => {
  assert.throws(() => parseNegativesLine('what is x\tx is a thing\tsomething else'), /text triples/);
  assert.throws(() => parseNegativesLine('1\t2\t3\t4'), /4 tab-separated/);
});

test('golden: fixture through the CLI (header qrels, list negatives, cap 2) gives the reviewed records, corpus and summary', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-marco-'));
  try {
    const out = join(dir, 'records.jsonl');
    const res = spawnSync(process.execPath, [CLI, 'convert', 'msmarco', '--collection', 'fixtures/msmarco/collection.tsv',
      '--queries', 'fixtures/msmarco/queries.tsv', '--qrels', 'fixtures/msmarco/qrels.header.tsv', '--negatives', 'fixtures/msmarco/negatives.tsv',
      '--negatives-per-query', '2', '--out', out, '--corpus', join(dir, 'corpus.jsonl')], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(await readFile(out, 'utf8'), await readFile(join(GOLDEN, 'records.jsonl'), 'utf8'));
    assert.equal(await readFile(join(dir, 'corpus.jsonl'), 'utf8'), await readFile(join(GOLDEN, 'corpus.jsonl'), 'utf8'));
    assert.deepEqual(JSON.parse(await readFile(`${out}.summary.json`, 'utf8')), JSON.parse(await readFile(join(GOLDEN, 'summary.json'), 'utf8')));
    assert.deepEqual((await readdir(dir)).sort(), ['corpus.jsonl', 'records.jsonl', 'records.jsonl.summary.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every qrels layout and both negatives layouts give the same records', async () => {
  const golden = await readJsonl(join(GOLDEN, 'records.jsonl'));
  for (const qrels of ['qrels.trec.txt', 'qrels.q0.txt', 'qrels.header.tsv', 'qrels.noheader.tsv']) {
    for (const negatives of ['negatives.tsv', 'qidpidtriples.tsv']) {
      const { records, summary } = await convert({ qrels: fx(qrels), negatives: fx(negatives), negativesPerQuery: 2 });
      assert.deepEqual(records, golden, `${qrels} + ${negatives}`);
      assert.equal(summary.read, summary.converted + summary.skippedTotal);
    }
  }
});

test('decisions: query order, trimming, CRLF, literal quotes, skips and negative placement', async () => {
  const { records, passages, summary } = await convert({ negatives: fx('negatives.tsv'), negativesPerQuery: 0, officialNegatives: 'negative' });
  assert.deepEqual(records.map((r) => r.id), ['100', '101', '102', '106'], 'queries file order');
  assert.equal(records[1].question, 'do goldfish grow', 'trailing space and CR removed');
  assert.ok(records.every((r) => r.answers.length === 0 && r.hard_negative_ctxs.length === 0));
  assert.equal(passages[1].text, '"Quoted" start: the Manhattan Project was a research effort during World War II.', 'a leading quote is text, not CSV quoting');
  assert.equal(passages.find((p) => p.passage_id === '2')?.text.startsWith('Goldfish'), true, 'the first of a repeated pid wins');
  // No cap: 998 reaches the collection check and is counted there.
  assert.deepEqual(records[0].negative_ctxs.map((c) => c.passage_id), ['6', '5']);
  assert.deepEqual(records[1].negative_ctxs.map((c) => c.passage_id), ['5', '6', '3']);
  assert.equal(summary.extra.get('negatives dropped: pid not in the collection'), 1);
  for (const r of records) {
    const pos = new Set(r.positive_ctxs.map((c) => c.passage_id));
    assert.ok(r.negative_ctxs.every((c) => !pos.has(c.passage_id)), `${r.id}: no positive among negatives`);
  }
  const none = await convert({ negatives: fx('negatives.tsv'), officialNegatives: 'none' });
  assert.ok(none.records.every((r) => r.negative_ctxs.length === 0 && r.hard_negative_ctxs.length === 0));
});

test('gzip inputs and a JSONL (BEIR) collection are read directly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-marco-'));
  try {
    for (const name of ['collection.tsv', 'queries.tsv', 'qrels.trec.txt']) await writeFile(join(dir, `${name}.gz`), gzipSync(await readFile(fx(name))));
    const golden = (await convert({})).records;
    const gz = await convert({ collection: join(dir, 'collection.tsv.gz'), queries: join(dir, 'queries.tsv.gz'), qrels: join(dir, 'qrels.trec.txt.gz') });
    assert.deepEqual(gz.records, golden);
    const jsonl = join(dir, 'corpus.jsonl');
    const lines = (await readFile(fx('collection.tsv'), 'utf8')).trim().split('\n').map((l) => {
      const [id, text] = l.split('\t');
      return JSON.stringify({ _id: id, title: '', text, metadata: {} });
    });
    await writeFile(jsonl, lines.join('\n') + '\n');
    assert.deepEqual((await convert({ collection: jsonl })).records, golden);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// [case, file name, content, the input option it replaces, location the error must name]
const badFiles: [string, string, string, keyof MsmarcoConvertOptions, RegExp][] = [
  ['qrels line with 2 fields', 'q.txt', '100 0 0 1\n100 1\n', 'qrels', /q\.txt, line 2: expected/],
  ['qrels relevance not a number (not line 1)', 'q.txt', '100 0 0 1\n100 0 1 yes\n', 'qrels', /q\.txt, line 2: relevance "yes"/],
  ['query line without a tab', 'queries.tsv', '100 what\n', 'queries', /queries\.tsv, line 1: expected "qid<TAB>query"/],
  ['collection line without a tab', 'c.tsv', '0\tok\n1 no tab\n', 'collection', /c\.tsv, line 2: expected "pid<TAB>passage"/],
  ['text triples', 'n.tsv', 'a query\ta passage\tanother passage\n', 'negatives', /n\.tsv, line 1: looks like a text triples file/],
];
for (const [name, file, content, option, message] of badFiles) {
  test(`bad input stops naming file and line: ${name}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dprep-marco-'));
    try {
      await writeFile(join(dir, file), content);
      await assert.rejects(convert({ [option]: join(dir, file) }), (err: unknown) => err instanceof InputError && message.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('CLI: a missing input exits 2 naming it and leaves no output', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-marco-'));
  try {
    const res = spawnSync(process.execPath, [CLI, 'convert', 'msmarco', '--collection', join(dir, 'nope.tsv'), '--queries', fx('queries.tsv'),
      '--qrels', fx('qrels.trec.txt'), '--out', join(dir, 'o.jsonl'), '--corpus', join(dir, 'c.jsonl')], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /nope\.tsv/);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('streaming: a collection twice the size of the heap converts under --max-old-space-size=32', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-marco-'));
  try {
    const collection = join(dir, 'collection.tsv');
    const out = createWriteStream(collection);
    // 200k passages of ~320 bytes (64 MB); every 200th is a positive, so texts must be kept from all over the file.
    const filler = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ');
    for (let pid = 0; pid < 200_000; pid++) {
      if (!out.write(`${pid}\tpassage ${pid} ${filler}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const queries = Array.from({ length: 1000 }, (_, q) => `${q}\tquery ${q}\n`).join('');
    const qrels = Array.from({ length: 1000 }, (_, q) => `${q} 0 ${q * 200 + 7} 1\n`).join('');
    await writeFile(join(dir, 'queries.tsv'), queries);
    await writeFile(join(dir, 'qrels.txt'), qrels);
    const size = (await stat(collection)).size;
    assert.ok(size > 2 * 32 * 2 ** 20, `collection is ${size} bytes`);
    const res = spawnSync(process.execPath, ['--max-old-space-size=32', CLI, 'convert', 'msmarco', '--collection', collection,
      '--queries', join(dir, 'queries.tsv'), '--qrels', join(dir, 'qrels.txt'), '--out', join(dir, 'o.jsonl'), '--corpus', join(dir, 'c.jsonl')],
      { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
    assert.equal(res.status, 0, res.stderr.slice(0, 2000));
    assert.match(res.stderr, /read 1000, converted 1000, skipped 0/);
    const records = await readJsonl(join(dir, 'o.jsonl'));
    assert.equal(records[999].positive_ctxs[0].text, `passage ${999 * 200 + 7} ${filler}`);
    assert.equal((await stat(join(dir, 'c.jsonl'))).size > size, true, 'the whole collection went to the corpus');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
