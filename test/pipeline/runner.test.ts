import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { pipelineStatus, runPipeline, summaryTable } from '../../src/pipeline/runner.ts';
import { DIAMOND, plan, read, run, tempProject, writePipeline } from './_helpers.ts';

/** A project with the diamond pipeline and its input. */
async function diamond(yaml = DIAMOND) {
  const dir = await tempProject();
  await writeFile(join(dir, 'in.txt'), 'one\ntwo\n');
  const file = await writePipeline(dir, yaml);
  return { dir, file, work: join(dir, '.dprep', 'diamond') };
}

test('runner: a second run does nothing and leaves the lockfile byte-identical', async () => {
  const { file, work } = await diamond();
  const first = await run(file);
  assert.deepEqual(first.byStep, { a: 'ran', b: 'ran', c: 'ran', d: 'ran' });
  const lock = await read(join(work, 'dprep.lock.yaml'));
  const second = await run(file);
  assert.deepEqual(second.byStep, { a: 'cached', b: 'cached', c: 'cached', d: 'cached' });
  assert.equal(await read(join(work, 'dprep.lock.yaml')), lock);
  assert.equal((await read(join(work, 'c', 'c.txt'))).split('\n').length - 1, 4, 'param n=4 reached step c');
});

test('runner: a param change reruns exactly the steps downstream of it, and says why', async () => {
  const { file } = await diamond();
  await run(file);
  const again = await run(file, { overrides: ['params.n=5'] });
  assert.deepEqual(again.byStep, { a: 'cached', b: 'cached', c: 'ran', d: 'ran' });
  const reasons = Object.fromEntries(again.steps.map((s) => [s.step, s.reason]));
  assert.equal(reasons.c, 'param lines changed: 4 → 5');
  assert.equal(reasons.d, 'input file changed: c.out (option input)');
  // A step option, the same way.
  const b = await run(file, { overrides: ['params.n=5', 'b.text=wasp'] });
  assert.deepEqual(b.byStep, { a: 'cached', b: 'ran', c: 'cached', d: 'cached' });
  assert.match(b.steps[1].reason, /param text changed: "bee" → "wasp"/);
});

test('runner: an input file change is detected, even at the same size', async () => {
  const { dir, file } = await diamond();
  await run(file);
  await writeFile(join(dir, 'in.txt'), 'one\ntwO\n');
  const again = await run(file);
  assert.deepEqual(again.byStep, { a: 'ran', b: 'ran', c: 'ran', d: 'ran' });
  assert.equal(again.steps[0].reason, 'input file changed: in.txt (option input)');
});

test('runner: a forced step with identical output does not rerun its dependents (content-addressed)', async () => {
  const { file } = await diamond();
  await run(file);
  const again = await run(file, {}, { force: ['a'] });
  assert.deepEqual(again.byStep, { a: 'ran', b: 'cached', c: 'cached', d: 'cached' });
  assert.equal(again.steps[0].reason, 'forced');
});

test('runner: a deleted or edited output makes its step rerun; side files are tracked too', async () => {
  const { file, work } = await diamond();
  await run(file);
  const original = await read(join(work, 'b.txt'));
  await rm(join(work, 'b.txt'));
  await writeFile(join(work, 'd-parts', 'part-000.txt'), 'edited\n');
  await rm(join(work, 'a.txt.summary.json'));
  const states = Object.fromEntries((await pipelineStatus(await plan(file))).map((s) => [s.step, [s.state, s.reason]]));
  assert.deepEqual(states, {
    a: ['missing', 'side file a.txt.summary.json is missing'],
    b: ['missing', 'upstream step a is missing; output out (b.txt) is missing'],
    c: ['stale', 'upstream step a is missing'],
    d: ['stale', 'upstream step c is stale'],
  });
  const again = await run(file);
  // a rewrites the same a.txt, so c's input is unchanged; b and d repair their outputs.
  assert.deepEqual(again.byStep, { a: 'ran', b: 'ran', c: 'cached', d: 'ran' });
  assert.equal(again.steps[3].reason, 'output out-dir (d-parts) was changed after the step wrote it');
  assert.equal(await read(join(work, 'b.txt')), original);
  assert.equal(existsSync(join(work, 'a.txt.summary.json')), true);
});

test('runner: status reports fresh / stale / missing with upstream propagation', async () => {
  const { file } = await diamond();
  const before = await pipelineStatus(await plan(file));
  assert.deepEqual(before.map((s) => [s.step, s.state, s.reason]), [
    ['a', 'missing', 'never run'],
    ['b', 'missing', 'upstream step a is missing'],
    ['c', 'missing', 'upstream step a is missing'],
    ['d', 'missing', 'upstream step c is missing'],
  ]);
  await run(file);
  const changed = await pipelineStatus(await plan(file, { overrides: ['params.n=7'] }));
  assert.deepEqual(changed.map((s) => [s.step, s.state]), [['a', 'fresh'], ['b', 'fresh'], ['c', 'stale'], ['d', 'stale']]);
  assert.equal(changed[3].reason, 'upstream step c is stale');
});

test('runner: a dry run writes nothing and lists what would run', async () => {
  const { file, work } = await diamond();
  const dry = await run(file, {}, { dryRun: true });
  assert.deepEqual(dry.byStep, { a: 'would-run', b: 'would-run', c: 'would-run', d: 'would-run' });
  assert.equal(existsSync(work), false);
  await run(file);
  const dry2 = await run(file, { overrides: ['params.n=2'] }, { dryRun: true });
  assert.deepEqual(dry2.byStep, { a: 'cached', b: 'cached', c: 'would-run', d: 'would-run' });
  assert.equal(dry2.steps[3].reason, 'upstream step c is to be rerun');
});

test('runner: --from and --until select a slice of the graph', async () => {
  const { file } = await diamond();
  const until = await run(file, {}, { until: 'c' });
  assert.deepEqual(until.byStep, { a: 'ran', b: 'not-selected', c: 'ran', d: 'not-selected' });
  const from = await run(file, {}, { from: 'c', force: ['c'] });
  assert.deepEqual(from.byStep, { a: 'not-selected', b: 'not-selected', c: 'ran', d: 'ran' });
  await assert.rejects(run(file, {}, { from: 'zz' }), /--from zz: no such step; steps: a, b, c, d/);
  const empty = await diamond();
  const orphan = await run(empty.file, {}, { from: 'c' });
  assert.equal(orphan.byStep.c, 'failed');
  assert.match(orphan.error!.message, /input input not found: .*a\.txt \(output out of step a\); run the steps that produce it first/);
});

test('runner: a failing step is named, keeps no outputs, and later steps do not run', async () => {
  const { file, work } = await diamond();
  const failed = await run(file, { overrides: ['c.fail-at=1'] });
  assert.equal(failed.ok, false);
  assert.deepEqual(failed.byStep, { a: 'ran', b: 'ran', c: 'failed', d: 'not-run' });
  assert.match(failed.error!.message, /^step "c" \(debug.write\) failed: debug.write: failing on purpose at line 1/);
  assert.equal(existsSync(join(work, 'c')), false, 'no partial output under the final name');
  const lock = parse(await read(join(work, 'dprep.lock.yaml')));
  assert.deepEqual(Object.keys(lock.steps), ['a', 'b']);
  const manifest = JSON.parse(await read(failed.manifest!));
  assert.equal(manifest.status, 'failed');
  assert.equal(manifest.steps[2].error, failed.error!.message);
  // Fixed, the run continues where it stopped.
  const fixed = await run(file);
  assert.deepEqual(fixed.byStep, { a: 'cached', b: 'cached', c: 'ran', d: 'ran' });
});

test('runner: a step resumes from its checkpoint after a failure, and the output is as if uninterrupted', async () => {
  const { file, work } = await diamond();
  const clean = await diamond();
  await run(clean.file);
  // Fail c after 3 of its 4 lines: the checkpoint holds 3 lines.
  await run(file, { overrides: ['c.fail-at=3'] });
  const state = await readdir(join(work, '.dprep', 'state'));
  assert.equal(state.length, 1);
  assert.ok(state[0].startsWith('c.'));
  // fail-at is part of c's key, so rerunning without it must not resume that checkpoint...
  const other = await run(file);
  assert.equal(other.steps[2].metrics?.resumedFrom, 0, 'a checkpoint made under other params is not resumed');
  for (const f of ['a.txt', 'b.txt', 'c/c.txt', 'd.txt', 'd-parts/part-001.txt']) {
    assert.equal(await read(join(work, f)), await read(join(clean.work, f)), f);
  }
  assert.deepEqual(await readdir(join(work, '.dprep', 'state')), [], 'state is removed once a step completes');
});

test('runner: the manifest records versions, seeds, timings and metrics', async () => {
  const { file } = await diamond();
  const result = await run(file);
  const manifest = JSON.parse(await read(result.manifest!));
  assert.equal(manifest.status, 'ok');
  assert.equal(manifest.pipeline.name, 'diamond');
  assert.equal(manifest.seed, 13);
  assert.match(manifest.node, /^v\d+/);
  assert.ok(manifest.dependencies.yaml, 'dependency versions are recorded');
  assert.deepEqual(manifest.steps.map((s: { status: string }) => s.status), ['ran', 'ran', 'ran', 'ran']);
  assert.equal(manifest.steps[3].metrics.lines, 2);
  assert.equal(typeof manifest.steps[0].seconds, 'number');
  assert.equal(new Set(manifest.steps.map((s: { seed: number }) => s.seed)).size, 4, 'each step gets its own seed');
  const table = summaryTable(result.steps);
  assert.match(table.split('\n')[0], /^step\s+command\s+status\s+time\s+metrics$/);
  assert.match(table.split('\n')[4], /^d\s+debug\.write\s+ran\s+\d+\.\ds\s+lines=2 resumedFrom=0$/);
});

test('runner: the same pipeline in two workdirs gives byte-identical outputs; another seed does not', async () => {
  const { file, dir } = await diamond();
  await run(file, { workdir: join(dir, 'w1') });
  await run(file, { workdir: join(dir, 'w2') });
  for (const f of ['a.txt', 'b.txt', 'c/c.txt', 'd.txt', 'd-parts/part-000.txt']) assert.equal(await read(join(dir, 'w1', f)), await read(join(dir, 'w2', f)), f);
  const seeded = await diamond(DIAMOND.replace('seed: 13', 'seed: 14'));
  await run(seeded.file);
  assert.notEqual(await read(join(seeded.work, 'a.txt')), await read(join(dir, 'w1', 'a.txt')));
});

test('runner: a workdir in use by a live run is refused; a stale pid file is taken over', async () => {
  const { file, work } = await diamond();
  await run(file, {}, { until: 'a' });
  await writeFile(join(work, '.dprep', 'run.pid'), String(process.ppid));
  await assert.rejects(run(file), /another dprep run \(pid \d+\) is using/);
  await writeFile(join(work, '.dprep', 'run.pid'), '2147483646');
  assert.equal((await run(file)).ok, true);
});

test('runner: the real match command runs as a step reading another step\'s output', async () => {
  const dir = await tempProject();
  await writeFile(join(dir, 'q.jsonl'), JSON.stringify({ text: 'the U.S. army', answers: ['U.S.'] }) + '\n');
  const file = await writePipeline(dir, `name: m\nsteps:\n  copy:\n    uses: debug.write\n    with: { input: [q.jsonl], out: x.txt, lines: 1 }\n  check:\n    uses: match\n    with: { input: q.jsonl, mode: string }\n`);
  const p = await plan(file);
  assert.deepEqual(p.steps[1].inputs.map((i) => i.key), ['input']);
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await runPipeline(p, { log: () => {} });
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(lines.join('').trim().split('\n'), ['{"match":true}']);
});

test('runner: unchanged inputs are not rehashed on a rerun; --verify-hashes rereads them', async () => {
  const { dir, file, work } = await diamond();
  const input = join(dir, 'in.txt');
  const past = new Date(Date.now() - 3600_000);
  await utimes(input, past, past);
  const hashedAt = async () => JSON.parse(await readFile(join(work, '.dprep', 'hash-cache.json'), 'utf8'))[input].hashedAtMs as number;
  await run(file);
  const first = await hashedAt();
  await run(file, {}, { force: ['a'] });
  assert.equal(await hashedAt(), first, 'served from the (size, mtime, inode) cache');
  await run(file, {}, { force: ['a'], verifyHashes: true });
  assert.ok((await hashedAt()) > first, 'reread under --verify-hashes');
});

test('runner: a step may read another step\'s side file (`${steps.a.outputs.out}.summary.json`): a dependency, not a source file', async () => {
  const dir = await tempProject();
  await writeFile(join(dir, 'in.txt'), 'x\n');
  const yaml = (suffix: string) => `name: side
seed: 1
steps:
  a:
    uses: debug.write
    with:
      input: [in.txt]
      out: a.txt
      lines: 2
  b:
    uses: debug.write
    with:
      input: ['\${steps.a.outputs.out}${suffix}']
      out: b.txt
`;
  const file = await writePipeline(dir, yaml('.summary.json'));
  const p = await plan(file);
  const b = p.steps.find((s) => s.name === 'b')!;
  assert.deepEqual(b.deps, ['a']);
  assert.deepEqual(b.inputs[0].paths.map((x) => [x.fromStep, x.fromOutput]), [['a', 'out']]);
  const first = await run(file);
  assert.deepEqual(first.byStep, { a: 'ran', b: 'ran' });
  assert.match(await read(join(dir, '.dprep', 'side', 'dprep.lock.yaml')), /from: a\.out/);
  // Any other suffix is a source file of its own, which does not exist.
  await assert.rejects(plan(await writePipeline(dir, yaml('.other'), 'q.yaml')), /input file not found: .*a\.txt\.other/);
});
