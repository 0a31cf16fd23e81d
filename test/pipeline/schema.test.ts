import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePipeline, PipelineError } from '../../src/pipeline/schema.ts';
import { joinOverrides, planPipeline } from '../../src/pipeline/plan.ts';
import { commandRegistry } from '../../src/pipeline/registry.ts';
import { debugCommands } from '../../src/commands/debug.ts';
import { runCommand } from '../../src/commands/run.ts';
import { TEST_COMMANDS, tempProject } from './_helpers.ts';

const dir = await tempProject();
await writeFile(join(dir, 'in.txt'), 'x\n');

const VALID = `name: t
seed: 1
params:
  n: 3
steps:
  a:
    uses: debug.write
    with:
      input: [in.txt]
      out: a.txt
      lines: \${params.n}
  b:
    uses: debug.write
    with:
      input: ['\${steps.a.outputs.out}']
      out: b.txt
`;

/** Plans `yaml` as if it were dir/p.yaml; returns the error message ('' if none). */
function problems(yaml: string, overrides: string[] = []): string {
  try {
    planPipeline(parsePipeline(yaml, join(dir, 'p.yaml'), 'p.yaml'), { commands: TEST_COMMANDS, overrides });
    return '';
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    return err.message;
  }
}

test('schema: the valid pipeline plans without problems', () => assert.equal(problems(VALID), ''));

// [case, edit of VALID (from → to), expected fragments of the message, including file:line:col]
const cases: [string, [string, string], string[]][] = [
  ['YAML syntax error', ['  n: 3\n', '  n: [3\n'], ['p.yaml:', 'YAML:']],
  ['unknown top-level key lists allowed keys', ['seed: 1\n', 'seed: 1\nsed: 2\n'], ['p.yaml:3:1:', 'unknown key "sed"', 'allowed: name, description, seed']],
  ['seed must be an integer', ['seed: 1', 'seed: 1.5'], ['p.yaml:2:7:', 'seed: expected an integer']],
  ['unknown step key', ['  a:\n    uses', '  a:\n    needs: [b]\n    uses'], ['p.yaml:7:5:', 'steps.a: unknown key "needs"', 'allowed: uses, description, with']],
  ['missing uses', ['    uses: debug.write\n    with:\n      input: [in.txt]', '    with:\n      input: [in.txt]'], ['p.yaml:6:3:', 'missing required key "uses"']],
  ['unknown command lists commands', ['uses: debug.write\n    with:\n      input: [in.txt]', 'uses: convert.nope\n    with:\n      input: [in.txt]'], ['p.yaml:7:11:', 'unknown command "convert.nope"', 'allowed: debug.write, debug.shard, match']],
  ['pipeline commands are not steps', ['uses: debug.write\n    with:\n      input: [in.txt]', 'uses: run\n    with:\n      input: [in.txt]'], ['p.yaml:7:11:', 'unknown command "run"']],
  ['unknown option lists the command options', ['      lines: ${params.n}', '      linez: 3'], ['p.yaml:11:14:', 'unknown option "linez" for debug.write', 'allowed: input, out, out-dir, lines']],
  ['option type is checked at its line', ['      lines: ${params.n}', '      lines: many'], ['p.yaml:11:14:', 'option "lines": expected a number']],
  ['param type flows into the option', ['  n: 3', '  n: lots'], ['p.yaml:11:14:', 'option "lines": expected a number, got "lots"']],
  ['missing required option', ['      out: b.txt\n', '      text: x\n'], ['p.yaml:12:3:', 'missing required option "out"']],
  ['unknown param', ['${params.n}', '${params.m}'], ['p.yaml:11:14:', 'unknown param "m"', 'params: n']],
  ['unknown step in reference', ['${steps.a.outputs.out}', '${steps.z.outputs.out}'], ['p.yaml:15:14:', 'no step "z"', 'steps: a, b']],
  ['unknown output in reference', ['${steps.a.outputs.out}', '${steps.a.outputs.model}'], ['p.yaml:15:14:', 'step a has no output "model"', 'its outputs: out']],
  ['unknown reference kind', ['${steps.a.outputs.out}', '${env.HOME}'], ['p.yaml:15:14:', 'unknown reference ${env.HOME}']],
  ['output reference in a non-input option', ['      out: b.txt\n', '      out: b.txt\n      text: ${steps.a.outputs.out}\n'], ['p.yaml:17:13:', 'step outputs can only be given to input options']],
  ['output outside the workdir', ['      out: b.txt', '      out: ../../b.txt'], ['p.yaml:16:12:', 'must be a relative path inside the workdir']],
  ['absolute output', ['      out: b.txt', '      out: /tmp/b.txt'], ['p.yaml:16:12:', 'must be a relative path inside the workdir']],
  ['reserved output name', ['      out: b.txt', '      out: runs/b.txt'], ['p.yaml:16:12:', 'reserved for the runner']],
  ['overlapping outputs', ['      out: b.txt', '      out: a.txt'], ['p.yaml:16:12:', 'output "a.txt" overlaps output "a.txt" of step a']],
  ['output inside another output', ['      out: b.txt', '      out: a.txt/part'], ['overlaps output "a.txt" of step a']],
  ['input outside the pipeline directory', ['input: [in.txt]', 'input: [../../etc/passwd]'], ['p.yaml:9:14:', 'is outside', 'allow-outside: true']],
  ['missing input file', ['input: [in.txt]', 'input: [nope.txt]'], ['p.yaml:9:14:', 'input file not found']],
  ['step names are identifiers', ['  b:\n', '  b.x:\n'], ['p.yaml:12:3:', 'step name "b.x"']],
  ['duplicate step', ['  b:\n', '  a:\n'], ['p.yaml:12:3:', 'YAML: Map keys must be unique']],
  ['cycle is reported as a path', ["input: [in.txt]", "input: ['${steps.b.outputs.out}']"], ['p.yaml:6:3:', 'steps form a cycle: a → b → a']],
  ['every problem at once', ['      lines: ${params.n}', '      lines: x\n      linez: 2'], ['2 problems', 'p.yaml:11:14:', 'p.yaml:12:14:']],
];

for (const [name, [from, to], fragments] of cases) {
  test(`schema: ${name}`, () => {
    assert.ok(VALID.includes(from), `test edit must apply: ${from}`);
    const message = problems(VALID.replace(from, to));
    for (const f of fragments) assert.ok(message.includes(f), `expected "${f}" in:\n${message}`);
  });
}

// [case, --set overrides, expected fragment ('' = accepted)]
const overrideCases: [string, string[], string][] = [
  ['step option', ['a.lines=7'], ''],
  ['param', ['params.n=9'], ''],
  ['unknown step', ['z.lines=7'], '--set z.lines=7: no step "z"; steps: a, b'],
  ['unknown param', ['params.q=1'], '--set params.q=1: no param "q"'],
  ['unknown option', ['a.linez=7'], 'unknown option "linez"'],
  ['bad value type', ['a.lines=seven'], '--set a.lines: option "lines": expected a number'],
  ['malformed', ['lines=7'], 'expected STEP.OPTION=VALUE'],
];
for (const [name, overrides, fragment] of overrideCases) {
  test(`schema: --set ${name}`, () => {
    const message = problems(VALID, overrides);
    if (fragment === '') assert.equal(message, '');
    else assert.ok(message.includes(fragment), `expected "${fragment}" in:\n${message}`);
  });
}

test('plan: --set values override the file, params keep their YAML type, seeds are derived per step', () => {
  const plan = planPipeline(parsePipeline(VALID, join(dir, 'p.yaml')), { commands: TEST_COMMANDS, overrides: ['params.n=9', 'b.text=bee'] });
  const [a, b] = plan.steps;
  assert.equal(a.options.lines, 9);
  assert.equal(b.options.text, 'bee');
  assert.notEqual(a.seed, b.seed);
  assert.equal(a.options.seed, a.seed);
  assert.deepEqual(b.deps, ['a']);
  assert.equal(b.inputs[0].paths[0].abs, a.outputs[0].abs);
  const explicit = planPipeline(parsePipeline(VALID.replace('      out: b.txt', '      out: b.txt\n      seed: 5'), join(dir, 'p.yaml')), { commands: TEST_COMMANDS });
  assert.equal(explicit.steps[1].seed, 5, 'an explicit seed wins over the derived one');
});

test('plan: a command marked drivesPipelines is in the registry but never a step', () => {
  const registry = commandRegistry([...debugCommands, runCommand]);
  const yaml = `name: t\nsteps:\n  a:\n    uses: run\n    with: { file: p.yaml }\n`;
  assert.throws(
    () => planPipeline(parsePipeline(yaml, join(dir, 'p.yaml'), 'p.yaml'), { commands: registry }),
    (err: Error) => err instanceof PipelineError && /steps\.a\.uses: unknown command "run"; allowed: debug\.write, debug\.shard$/m.test(err.message),
  );
  assert.equal(registry.get('run'), runCommand, 'the registry itself still holds it');
});

test('plan: steps run in dependency order, not file order', () => {
  const swapped = `name: t\nsteps:\n  late:\n    uses: debug.write\n    with: { input: ['\${steps.early.outputs.out}'], out: l.txt }\n  early:\n    uses: debug.write\n    with: { out: e.txt }\n`;
  const plan = planPipeline(parsePipeline(swapped, join(dir, 'p.yaml')), { commands: TEST_COMMANDS });
  assert.deepEqual(plan.steps.map((s) => s.name), ['early', 'late']);
});

test('plan: root widens where inputs may come from; allow-outside lifts the fence', () => {
  const sub = join(dir, 'pipelines', 'p.yaml');
  const yaml = (extra: string) => `name: t\n${extra}steps:\n  a:\n    uses: debug.write\n    with: { input: [../in.txt], out: a.txt }\n`;
  assert.throws(() => planPipeline(parsePipeline(yaml(''), sub), { commands: TEST_COMMANDS }), /is outside/);
  assert.equal(planPipeline(parsePipeline(yaml('root: ..\n'), sub), { commands: TEST_COMMANDS }).steps.length, 1);
  assert.equal(planPipeline(parsePipeline(yaml('allow-outside: true\n'), sub), { commands: TEST_COMMANDS }).steps.length, 1);
});

// [--set items as the list option split them, the overrides they were]
const joinCases: [string[], string[]][] = [
  [['a.x=1'], ['a.x=1']],
  [['a.fields=title', 'text', 'params.n=2'], ['a.fields=title,text', 'params.n=2']],
  [['a.q=p', 'q=r'], ['a.q=p,q=r']],
];
for (const [items, expected] of joinCases) {
  test(`plan: joinOverrides ${JSON.stringify(items)}`, () => assert.deepEqual(joinOverrides(items), expected));
}
