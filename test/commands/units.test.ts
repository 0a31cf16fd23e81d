/**
 * Shardable commands (issue 14), in process: every unit of N=1, N=4 and N=7 run as an executor
 * would (in any order), then the merge; the output and its sidecar files must be the bytes of one
 * whole run. Plus the refusals: units of other params, half a set of units, --unit without --units.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveOptions, type CommandSpec } from '../../src/options.ts';
import { convertSquadCommand } from '../../src/commands/convert-squad.ts';
import { mineBm25Command } from '../../src/commands/mine-bm25.ts';
import { indexBm25Command } from '../../src/commands/index-bm25.ts';
import { searchBm25Command } from '../../src/commands/search-bm25.ts';
import { initModelCommand } from '../../src/commands/init-model.ts';
import { encodeCommand } from '../../src/commands/encode.ts';
import { mineDenseCommand } from '../../src/commands/mine-dense.ts';
import { evalCommand } from '../../src/commands/eval.ts';
import { UsageError } from '../../src/util/errors.ts';
import { unitsRoot } from '../../src/util/units.ts';
import { FIXTURES } from '../_paths.ts';
import { loadFaiss } from '../../src/search/vector/faiss.ts';

process.env.DPREP_QUIET = '1';
let dir: string;
let examples: string;
let corpus: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runCmd(cmd: CommandSpec<any>, raw: Record<string, unknown>): Promise<unknown> {
  return cmd.run(resolveOptions(cmd.options, raw, cmd.id), { log: () => {} });
}

/** Runs units `order` of `units`, then the merge; returns the bytes of `out` and of each sidecar. */
export async function sharded(cmd: CommandSpec<any>, raw: Record<string, unknown>, out: string, sidecars: string[], units: number, order = [...Array(units).keys()].reverse()) {
  for (const unit of order) await runCmd(cmd, { ...raw, unit, units });
  await runCmd(cmd, raw);
  return Promise.all([out, ...sidecars.map((s) => out + s)].map((f) => readFile(f)));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dprep-units-'));
  examples = join(dir, 'train.dpr.jsonl');
  corpus = join(dir, 'corpus.jsonl');
  await runCmd(convertSquadCommand, { input: join(FIXTURES, 'quickstart', 'squad-mini-train.json'), out: examples, corpus });
});
after(() => rm(dir, { recursive: true, force: true }));

const sameBytes = (a: Buffer[], b: Buffer[], what: string) => a.forEach((x, i) => assert.ok(x.equals(b[i]), `${what}: file ${i} differs`));

test('mine bm25: N=1, 4 and 7 units (random sampling, margins, index built once by the units) merge to the bytes of one run', async () => {
  const common = { examples, corpus, depth: 40, negatives: 5, strategy: 'random', skipTop: 1, maxScoreRatio: 0.99, threads: 1 };
  const whole = join(dir, 'bm25-whole.json');
  await runCmd(mineBm25Command, { ...common, out: whole });
  const ref = await Promise.all([whole, whole + '.mining.json'].map((f) => readFile(f)));
  assert.ok(JSON.parse(ref[1].toString()).records.read > 300, 'the fixture has its 326 questions');
  for (const n of [1, 4, 7]) {
    const out = join(dir, `bm25-${n}`, 'bm25-whole.json');
    const got = await sharded(mineBm25Command, { ...common, out }, out, ['.mining.json'], n);
    sameBytes(got, ref, `N=${n}`);
    // The units' shared index is gone after the merge; the committed units stay (a rerun merges again).
    assert.ok(!existsSync(join(unitsRoot(out), 'index')));
    assert.equal((await readdir(unitsRoot(out))).filter((d) => d.startsWith('unit-')).length, n);
  }
  // The output format is the final writer's: .jsonl too.
  const wholeL = join(dir, 'bm25-whole.jsonl');
  await runCmd(mineBm25Command, { ...common, out: wholeL });
  const outL = join(dir, 'bm25-l', 'bm25-whole.jsonl');
  sameBytes(await sharded(mineBm25Command, { ...common, out: outL }, outL, ['.mining.json'], 3, [1, 0, 2]), await Promise.all([wholeL, wholeL + '.mining.json'].map((f) => readFile(f))), 'jsonl N=3');
});

/**
 * The examples with bad records (invalid JSON, invalid UTF-8, a wrong field) ahead of the first,
 * next to the N=3 unit edges (109, 218 of 326) and after the last: 6 in all.
 */
async function examplesWithBadRecords(file: string): Promise<{ file: string; bad: number }> {
  const lines = (await readFile(examples, 'utf8')).split('\n').filter((l) => l !== '');
  const json = Buffer.from('{"question": "cut');
  const wrongField = Buffer.from('{"question": 3, "answers": [], "positive_ctxs": []}');
  const utf8 = Buffer.concat([Buffer.from('{"question": "caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  const at = new Map<number, Buffer[]>([[0, [json]], [109, [utf8, wrongField]], [218, [json]], [219, [wrongField]], [lines.length, [utf8]]]);
  const parts: Buffer[] = [];
  lines.forEach((l, i) => parts.push(...(at.get(i) ?? []).map((b) => Buffer.concat([b, Buffer.from('\n')])), Buffer.from(l + '\n')));
  for (const b of at.get(lines.length)!) parts.push(Buffer.concat([b, Buffer.from('\n')]));
  await writeFile(file, Buffer.concat(parts));
  return { file, bad: [...at.values()].flat().length };
}

test('mine bm25 --skip-bad: N=1, 3 and 7 units count each bad record once (the merged report is the bytes of one run)', async () => {
  const { file, bad } = await examplesWithBadRecords(join(dir, 'train-bad.dpr.jsonl'));
  const common = { examples: file, corpus, depth: 20, negatives: 3, strategy: 'random', threads: 1, skipBad: true };
  const whole = join(dir, 'bm25-bad-whole.json');
  await runCmd(mineBm25Command, { ...common, out: whole });
  const ref = await Promise.all([whole, whole + '.mining.json'].map((f) => readFile(f)));
  const records = JSON.parse(ref[1].toString()).records;
  const badSkipped = Object.entries(records.skipped as Record<string, number>).filter(([r]) => r.startsWith('bad record:')).reduce((n, [, c]) => n + c, 0);
  assert.equal(badSkipped, bad, 'a whole run counts every bad record once');
  for (const n of [1, 3, 7]) {
    const out = join(dir, `bm25-bad-${n}`, 'bm25-bad-whole.json');
    const got = await sharded(mineBm25Command, { ...common, out }, out, ['.mining.json'], n);
    assert.deepEqual(JSON.parse(got[1].toString()).records, records, `N=${n}: merged counts`);
    sameBytes(got, ref, `N=${n}`);
  }
});

test('mine bm25 units: other params are refused at the merge; half the units merge nothing (a whole run); --unit needs --units', async () => {
  const common = { examples, corpus, depth: 20, negatives: 3, threads: 1 };
  const out = join(dir, 'bm25-refuse', 'neg.json');
  for (const unit of [0, 1]) await runCmd(mineBm25Command, { ...common, out, unit, units: 2 });
  await assert.rejects(runCmd(mineBm25Command, { ...common, negatives: 4, out }), (e: unknown) => e instanceof UsageError && /unit 0 of 2 .*other inputs or params.*remove/.test((e as Error).message));
  assert.ok(!existsSync(out), 'nothing written');
  await assert.rejects(runCmd(mineBm25Command, { ...common, out, unit: 1 }), /--unit and --units go together/);
  // Only unit 0 of 3 done: no N is complete, so the command runs whole (and gives the whole bytes).
  const out3 = join(dir, 'bm25-half', 'neg.json');
  await runCmd(mineBm25Command, { ...common, out: out3, unit: 0, units: 3 });
  await runCmd(mineBm25Command, { ...common, out: out3 });
  const ref = join(dir, 'bm25-half-ref.json');
  await runCmd(mineBm25Command, { ...common, out: ref });
  assert.equal(await readFile(out3, 'utf8'), await readFile(ref, 'utf8'));
  // A unit rerun with the same key does nothing (its marker stays as it was).
  const marker = join(unitsRoot(out), 'unit-00000-of-00002', 'unit.done.json');
  const before = await readFile(marker, 'utf8');
  await writeFile(join(unitsRoot(out), 'unit-00000-of-00002', 'records.jsonl'), '');
  await runCmd(mineBm25Command, { ...common, out, unit: 0, units: 2 });
  assert.equal(await readFile(marker, 'utf8'), before);
  assert.equal(await readFile(join(unitsRoot(out), 'unit-00000-of-00002', 'records.jsonl'), 'utf8'), '', 'not redone');
});

test('search bm25: N=1, 4 and 7 units (DPR records and MS MARCO TSV queries) join to the bytes of one run', async () => {
  const index = join(dir, 'squad.bm25');
  await runCmd(indexBm25Command, { corpus, out: index });
  const tsv = join(FIXTURES, 'msmarco', 'two-stage', 'queries.train.tsv');
  for (const queries of [examples, tsv]) {
    const common = { index, queries, k: 17, threads: 1 };
    const whole = join(dir, 'search-whole.trec');
    await runCmd(searchBm25Command, { ...common, out: whole });
    const ref = await readFile(whole);
    assert.ok(ref.toString().split('\n').length > 100, `a run of many lines (${queries})`);
    for (const n of [1, 4, 7]) {
      const out = join(dir, `search-${n}-${queries === tsv ? 'tsv' : 'dpr'}`, 'run.trec');
      const [got] = await sharded(searchBm25Command, { ...common, out }, out, [], n);
      assert.ok(got.equals(ref), `N=${n} ${queries}`);
    }
  }
});

test('mine dense: N=1, 4 and 7 units (query batches cut by the units, margins, random sampling) merge to the bytes of one run', async () => {
  const model = join(dir, 'bert-tiny');
  await runCmd(initModelCommand, { config: join(FIXTURES, 'models', 'bert-tiny', 'config.json'), vocab: join(FIXTURES, 'models', 'bert-tiny'), out: model, seed: 3 });
  const embeddings = join(dir, 'emb');
  await runCmd(encodeCommand, { model, corpus, out: embeddings, batch: 32, shardRows: 50, maxLength: 64 });
  // --batch 16 with units of 82 (N=4) and 47 (N=7) records: unit edges fall inside query batches.
  const common = { queryModel: model, embeddings, examples, corpus, depth: 30, negatives: 4, skipTop: 1, maxScoreRatio: 0.999, strategy: 'random', batch: 16, search: 'exact' };
  const whole = join(dir, 'dense-whole.json');
  await runCmd(mineDenseCommand, { ...common, out: whole });
  const ref = await Promise.all([whole, whole + '.summary.json', whole + '.mining.json'].map((f) => readFile(f)));
  assert.ok(JSON.parse(ref[1].toString()).converted > 300);
  assert.ok(JSON.parse(ref[2].toString()).scores.totals.positive > 0, 'the score histogram has positives');
  for (const n of [1, 4, 7]) {
    const out = join(dir, `dense-${n}`, 'dense-whole.json');
    sameBytes(await sharded(mineDenseCommand, { ...common, out }, out, ['.summary.json', '.mining.json'], n), ref, `N=${n}`);
  }
  await assert.rejects(runCmd(mineDenseCommand, { ...common, negatives: 5, out: join(dir, 'dense-4', 'dense-whole.json') }), /unit 0 of 4 .*other inputs or params/);

  // --skip-bad: every unit reads the whole file, yet counts only its own bad records.
  const { file: badFile, bad } = await examplesWithBadRecords(join(dir, 'train-bad-dense.dpr.jsonl'));
  const badCommon = { ...common, examples: badFile, skipBad: true };
  const badWhole = join(dir, 'dense-bad-whole.json');
  await runCmd(mineDenseCommand, { ...badCommon, out: badWhole });
  const badRef = await Promise.all([badWhole, badWhole + '.summary.json', badWhole + '.mining.json'].map((f) => readFile(f)));
  const skipped = JSON.parse(badRef[1].toString()).skipped as Record<string, number>;
  assert.equal(Object.entries(skipped).filter(([r]) => r.startsWith('bad record:')).reduce((n, [, c]) => n + c, 0), bad);
  const badOut = join(dir, 'dense-bad-3', 'dense-bad-whole.json');
  const badGot = await sharded(mineDenseCommand, { ...badCommon, out: badOut }, badOut, ['.summary.json', '.mining.json'], 3);
  assert.deepEqual(JSON.parse(badGot[1].toString()).skipped, skipped, 'N=3 --skip-bad: merged counts');
  sameBytes(badGot, badRef, '--skip-bad N=3');

  // eval with the same model: questions split by units inside its 256-question batches; metrics and run file as one run.
  const evalCommon = { model, embeddings, examples, corpus, k: [1, 5, 20], search: 'exact' };
  const log = console.log;
  console.log = () => {};
  try {
    const ew = join(dir, 'eval-whole.json');
    await runCmd(evalCommand, { ...evalCommon, out: ew, runOut: ew + '.trec' });
    const eref = await Promise.all([ew, ew + '.trec'].map((f) => readFile(f)));
    assert.equal(JSON.parse(eref[0].toString()).queries, 326);
    for (const n of [1, 4, 7]) {
      const out = join(dir, `eval-${n}`, 'eval-whole.json');
      sameBytes(await sharded(evalCommand, { ...evalCommon, out, runOut: out + '.trec' }, out, ['.trec'], n), eref, `eval N=${n}`);
    }
    await assert.rejects(runCmd(evalCommand, { ...evalCommon, unit: 0, units: 2 }), /give --out or --run-out/);
  } finally {
    console.log = log;
  }
});

const faissBuilt = loadFaiss() !== undefined;

test('mine dense and eval --index ivf: the units measure the run\'s recall sample between them; the merge counts it once, as one run does', { skip: faissBuilt ? false : 'faiss-node not built (scripts/build-faiss-node.sh)' }, async () => {
  const model = join(dir, 'bert-tiny-ann');
  await runCmd(initModelCommand, { config: join(FIXTURES, 'models', 'bert-tiny', 'config.json'), vocab: join(FIXTURES, 'models', 'bert-tiny'), out: model, seed: 4 });
  const embeddings = join(dir, 'emb-ann');
  await runCmd(encodeCommand, { model, corpus, out: embeddings, batch: 32, shardRows: 50, maxLength: 64 });
  // 4 lists, 1 probed: an index that misses hits, so the recall is neither 0 nor 1.
  const ann = { index: 'ivf', nlist: 4, nprobe: 1, recallQueries: 120, search: 'faiss' };
  const common = { queryModel: model, embeddings, examples, corpus, depth: 30, negatives: 4, skipTop: 1, batch: 16, ...ann };
  const whole = join(dir, 'dense-ann-whole.json');
  const wholeMetrics = (await runCmd(mineDenseCommand, { ...common, out: whole })) as { metrics: { indexRecall: number } };
  const ref = await Promise.all([whole, whole + '.summary.json', whole + '.mining.json'].map((f) => readFile(f)));
  const recallLines = (buf: Buffer) => Object.entries(JSON.parse(buf.toString()).extra as Record<string, number>).filter(([name]) => name.startsWith('index recall@'));
  const [line] = recallLines(ref[1]);
  assert.equal(recallLines(ref[1]).length, 1);
  assert.match(line[0], /on 120 sampled questions/);
  assert.ok(line[1] > 0 && line[1] < 10_000, `recall ${line[1]} per 10,000: the index loses some hits`);
  assert.equal(line[1], Math.round(wholeMetrics.metrics.indexRecall * 10_000));
  for (const n of [4, 7]) {
    const out = join(dir, `dense-ann-${n}`, 'dense-ann-whole.json');
    const got = await sharded(mineDenseCommand, { ...common, out }, out, ['.summary.json', '.mining.json'], n);
    // One line with the whole run's value, not n lines (or one line n times too large).
    assert.deepEqual(recallLines(got[1]), [line], `N=${n}: the recall line`);
    sameBytes(got, ref, `--index ivf N=${n}`);
    const merged = (await runCmd(mineDenseCommand, { ...common, out })) as { metrics: { indexRecall: number } };
    assert.equal(merged.metrics.indexRecall, wholeMetrics.metrics.indexRecall, `N=${n}: merged metrics`);
  }

  const evalCommon = { model, embeddings, examples, corpus, k: [1, 5, 20], ...ann };
  const log = console.log;
  console.log = () => {};
  try {
    const ew = join(dir, 'eval-ann-whole.json');
    await runCmd(evalCommand, { ...evalCommon, out: ew });
    const eref = await readFile(ew);
    const recall = JSON.parse(eref.toString())['index_recall@20'] as number;
    assert.ok(recall > 0 && recall < 1, `eval index_recall@20 ${recall}`);
    for (const n of [4, 7]) {
      const out = join(dir, `eval-ann-${n}`, 'eval-ann-whole.json');
      const [got] = await sharded(evalCommand, { ...evalCommon, out }, out, [], n);
      assert.equal(JSON.parse(got.toString())['index_recall@20'], recall, `eval N=${n}: index recall`);
      assert.ok(got.equals(eref), `eval N=${n}: the bytes of one run`);
    }
  } finally {
    console.log = log;
  }
});

test('encode: N=1, 3, 7 and 10 units (whole shard files; 10 leaves empty units) re-stream to the manifest and shards of one run', async () => {
  const model = join(dir, 'bert-tiny-enc');
  await runCmd(initModelCommand, { config: join(FIXTURES, 'models', 'bert-tiny', 'config.json'), vocab: join(FIXTURES, 'models', 'bert-tiny'), out: model, seed: 5 });
  for (const [batch, shardRows] of [[10, 20], [10, 25]]) {
    const common = { model, corpus, batch, shardRows, maxLength: 48 };
    const whole = join(dir, `enc-whole-${shardRows}`);
    await runCmd(encodeCommand, { ...common, out: whole });
    const names = (await readdir(whole)).sort();
    assert.ok(names.length >= 2 * 6 + 1, names.join(', '));
    const ref = await Promise.all(names.map((f) => readFile(join(whole, f))));
    for (const n of [1, 3, 7, 10]) {
      const out = join(dir, `enc-${n}-${shardRows}`, 'emb');
      for (const unit of [...Array(n).keys()].reverse()) await runCmd(encodeCommand, { ...common, out, unit, units: n });
      assert.ok(!existsSync(out), 'units write beside --out, not into it');
      await runCmd(encodeCommand, { ...common, out });
      assert.deepEqual((await readdir(out)).sort(), names, `N=${n}`);
      sameBytes(await Promise.all(names.map((f) => readFile(join(out, f)))), ref, `encode N=${n} shard-rows ${shardRows}`);
    }
  }
  // Units of another batch size are refused.
  const out = join(dir, 'enc-3-20', 'emb');
  await assert.rejects(runCmd(encodeCommand, { model, corpus, batch: 5, shardRows: 20, maxLength: 48, out }), /unit 0 of 3 .*other inputs or params/);
});
