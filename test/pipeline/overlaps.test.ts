import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePipeline, PipelineError } from '../../src/pipeline/schema.ts';
import { planPipeline } from '../../src/pipeline/plan.ts';
import { TEST_COMMANDS, tempProject } from './_helpers.ts';

const dir = await tempProject();
await mkdir(join(dir, 'data'), { recursive: true });
await writeFile(join(dir, 'data', 'in.txt'), 'x\n');
await writeFile(join(dir, 'in.txt'), 'y\n');

/** A one-step pipeline with `workdir` and the step's output; '' when it plans. */
function problems(workdir: string, out: string, extra = '', inputs = 'data/in.txt'): string {
  const yaml = `name: t\nworkdir: ${workdir}\nsteps:\n  a:\n    uses: debug.write\n    with:\n      input: [${inputs}]\n      out: ${out}\n${extra}`;
  try {
    planPipeline(parsePipeline(yaml, join(dir, 'p.yaml'), 'p.yaml'), { commands: TEST_COMMANDS });
    return '';
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    return err.message;
  }
}

// [case, workdir, out, extra step lines, expected fragment ('' = accepted)]
const CASES: [string, string, string, string, string][] = [
  ['a separate workdir', 'work', 'in.txt', '', ''],
  ['workdir = the pipeline dir, output on a source', '.', 'data/in.txt', '', 'p.yaml:8:12: steps.a.with.out ('],
  ['workdir = the data dir, output on a source', 'data', 'in.txt', '', 'is the same path as steps.a.with.input'],
  ['output directory holding a source', '.', 'data', '', 'steps.a.with.input (' + join(dir, 'data', 'in.txt') + ') is inside steps.a.with.out'],
  ['side file onto a source', 'data', 'in', '', 'steps.a.with.out + ".summary.json"'],
  ['another step\'s source input', '.', 'a.txt', '  b:\n    uses: debug.write\n    with:\n      input: [in.txt]\n      out: in.txt\n', 'steps.b.with.out ('],
];
for (const [name, workdir, out, extra, fragment] of CASES) {
  test(`validate: ${name}`, async () => {
    const side = name.startsWith('side file');
    if (side) await writeFile(join(dir, 'data', 'in.summary.json'), 'mine\n');
    const message = problems(workdir, out, extra, side ? 'data/in.txt, data/in.summary.json' : undefined);
    if (fragment === '') assert.equal(message, '');
    else assert.ok(message.includes(fragment), `expected "${fragment}" in:\n${message}`);
    assert.equal(await readFile(join(dir, 'data', 'in.txt'), 'utf8'), 'x\n');
  });
}
