import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commands, findCommand } from '../src/commands/index.ts';
import { debugCommands } from '../src/commands/debug.ts';
import { camel, defineCommand, describeType, kebab, parseFlags, renderHelp, resolveOptions, seedOption, type OptionsSpec, type OptionValues } from '../src/options.ts';
import { NQ_INPUT_FORMATS } from '../src/converters/nq.ts';
import { INDEX_BACKENDS, INDEX_KINDS } from '../src/search/vector/index.ts';
import { ANALYZER_LANG_CHOICES } from '../src/text/analyzer.ts';
import { MATCH_MODES } from '../src/text/answer.ts';
import { BACKENDS } from '../src/trainer/tf-types.ts';
import { POOLINGS } from '../src/trainer/bert.ts';
import { UsageError } from '../src/util/errors.ts';
import { REPO_ROOT } from './_paths.ts';

const spec = {
  out: { type: 'string', help: 'output', required: true, role: 'output' },
  passageWords: { type: 'integer', help: 'words', default: 100, min: 1 },
  lr: { type: 'number', help: 'learning rate' },
  ratio: { type: 'number', help: 'ratio', min: 0, max: 1 },
  strategy: { type: 'string', help: 'sampling', choices: ['top', 'random'] as const, default: 'top' },
  checkTitle: { type: 'boolean', help: 'check titles' },
  k: { type: 'list', help: 'cutoffs', default: ['1', '5'] },
} as const;

// Type-level checks: required/defaulted options are always present, others optional.
type V = OptionValues<typeof spec>;
const typed: V = { out: 'x', passageWords: 1, strategy: 'random', checkTitle: false, k: [] };
// @ts-expect-error strategy only takes the declared choices
const badChoice: V = { ...typed, strategy: 'bogus' };
void badChoice;

const ok: [string, string[], Partial<Record<string, unknown>>][] = [
  ['defaults fill in', ['--out', 'a.json'], { out: 'a.json', passageWords: 100, strategy: 'top', checkTitle: false, k: ['1', '5'] }],
  ['kebab flags map to camel keys', ['--out=a', '--passage-words', '50'], { passageWords: 50 }],
  ['boolean flag and --no-', ['--out', 'a', '--check-title'], { checkTitle: true }],
  ['--no- form', ['--out', 'a', '--no-check-title'], { checkTitle: false }],
  ['list by commas', ['--out', 'a', '--k', '1,20,100'], { k: ['1', '20', '100'] }],
  ['list by repetition', ['--out', 'a', '--k', '1', '--k', '20'], { k: ['1', '20'] }],
  ['number', ['--out', 'a', '--lr', '2e-5'], { lr: 2e-5 }],
  ['range bounds are inclusive', ['--out', 'a', '--ratio', '1', '--passage-words', '1'], { ratio: 1, passageWords: 1 }],
];
for (const [name, argv, expected] of ok) {
  test(`options: ${name}`, () => {
    const { raw } = parseFlags(spec, argv, 'cmd');
    const values = resolveOptions(spec, raw, 'cmd') as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(values[k], v, k);
  });
}

const bad: [string, string[], RegExp][] = [
  ['missing required', [], /missing required option "out"/],
  ['unknown flag lists allowed', ['--out', 'a', '--bogus', '1'], /unknown flag --bogus; allowed: --out --passage-words/],
  ['non-integer', ['--out', 'a', '--passage-words', '1.5'], /expected an integer/],
  ['not a number', ['--out', 'a', '--lr', 'fast'], /expected a number/],
  ['choice', ['--out', 'a', '--strategy', 'best'], /expected one of top \| random, got "best"/],
  ['flag without value', ['--out'], /needs a value/],
  ['below min', ['--out', 'a', '--passage-words', '0'], /option "passage-words": expected an integer >= 1, got 0/],
  ['above max', ['--out', 'a', '--ratio', '1.5'], /option "ratio": expected a number in \[0, 1\], got 1.5/],
  ['below min of a range', ['--out', 'a', '--ratio', '-0.1'], /expected a number in \[0, 1\], got -0.1/],
];
for (const [name, argv, message] of bad) {
  test(`options error: ${name}`, () => {
    assert.throws(() => resolveOptions(spec, parseFlags(spec, argv, 'cmd').raw, 'cmd'), (e: unknown) => e instanceof UsageError && message.test(e.message));
  });
}

test('options: YAML keys (kebab) resolve like flags and unknown keys are named', () => {
  const v = resolveOptions(spec, { out: 'o', 'passage-words': 7, 'check-title': true }, 'p.yaml:3') as Record<string, unknown>;
  assert.equal(v.passageWords, 7);
  assert.equal(v.checkTitle, true);
  assert.throws(() => resolveOptions(spec, { out: 'o', depth: 3 }, 'p.yaml:3'), /p\.yaml:3: unknown option "depth"/);
});

test('options: YAML values are range-checked like flags', () => {
  assert.throws(() => resolveOptions(spec, { out: 'o', 'passage-words': 0 }, 'p.yaml:4 step "x"'), /p\.yaml:4 step "x": option "passage-words": expected an integer >= 1, got 0/);
});

test('defineCommand keeps the spec as declared', () => {
  const cmd = defineCommand({ id: 'x.y', summary: 's', options: spec, run: async () => undefined });
  assert.equal(cmd.options.passageWords.default, 100);
});

test('options: list items of a numeric type are coerced and range-checked one by one', () => {
  const lists = { k: { type: 'list', items: 'integer', min: 1, default: [1, 5], help: 'cutoffs' } } as const;
  const v: OptionValues<typeof lists> = resolveOptions(lists, { k: '1,20, 100' }, 'cmd');
  assert.deepEqual(v.k, [1, 20, 100]);
  assert.deepEqual(resolveOptions(lists, { k: [3, '4'] }, 'p.yaml:2').k, [3, 4]);
  assert.throws(() => resolveOptions(lists, { k: '1,0' }, 'cmd'), /cmd: option "k" item "0": expected an integer >= 1, got 0/);
  assert.throws(() => resolveOptions(lists, { k: '1,2.5' }, 'cmd'), /option "k" item "2\.5": expected an integer/);
  assert.throws(() => resolveOptions(lists, { k: '1,top' }, 'cmd'), /option "k" item "top": expected a number/);
  assert.equal(describeType(lists.k), 'list of integer >=1');
});

// Every registered command (and the test-only ones): each declared default must pass the checks
// resolveOptions applies to a user's value, so no command ships a default it would refuse.
const registered = [...commands, ...debugCommands.filter((d) => !commands.includes(d))];
for (const cmd of registered) {
  test(`declarations: ${cmd.id}: defaults lie within their ranges and choices`, () => {
    for (const [key, opt] of Object.entries(cmd.options as OptionsSpec)) {
      const name = `${cmd.id} --${kebab(key)}`;
      if (opt.min !== undefined || opt.max !== undefined) {
        assert.ok(opt.type === 'number' || opt.type === 'integer' || (opt.type === 'list' && opt.items), `${name}: min/max on a ${opt.type} option`);
        if (opt.min !== undefined && opt.max !== undefined) assert.ok(opt.min <= opt.max, `${name}: min > max`);
      }
      if (opt.choices) assert.equal(opt.type, 'string', `${name}: choices on a ${opt.type} option`);
      if (opt.items) assert.equal(opt.type, 'list', `${name}: items on a ${opt.type} option`);
      if (key === 'seed') {
        const like = seedOption(0, 'x');
        assert.deepEqual([opt.type, opt.min, opt.max, typeof opt.default], [like.type, like.min, like.max, 'number'], `${name}: declare it with seedOption`);
        assert.ok(opt.help.endsWith(like.help.slice('seed of x'.length)), `${name}: declare it with seedOption`);
      }
      if (opt.default === undefined) continue;
      assert.ok(!opt.required, `${name}: required and defaulted`);
      const resolved = resolveOptions({ [key]: opt }, { [kebab(key)]: opt.default }, name) as Record<string, unknown>;
      assert.deepEqual(resolved[key], opt.default, `${name}: the default changes when resolved`);
      const values = Array.isArray(opt.default) ? opt.default : [opt.default];
      for (const v of values) {
        if (typeof v !== 'number') continue;
        if (opt.min !== undefined) assert.ok(v >= opt.min, `${name}: default ${v} below min ${opt.min}`);
        if (opt.max !== undefined) assert.ok(v <= opt.max, `${name}: default ${v} above max ${opt.max}`);
      }
      if (opt.choices) assert.ok(opt.choices.includes(String(opt.default)), `${name}: default not among the choices`);
    }
  });
}

test('declarations: the choice lists are the exported ones, declared once', () => {
  const uses: [string, string, readonly string[]][] = [
    ['embed', 'pooling', POOLINGS], ['embed', 'backend', BACKENDS], ['train', 'pooling', POOLINGS], ['train', 'backend', BACKENDS],
    ['match', 'mode', MATCH_MODES], ['eval', 'match', MATCH_MODES], ['mine.bm25', 'match', MATCH_MODES], ['mine.dense', 'match', MATCH_MODES],
    ['eval', 'search', INDEX_BACKENDS], ['mine.dense', 'search', INDEX_BACKENDS], ['mine.dense', 'index', INDEX_KINDS], ['convert.nq', 'input-format', NQ_INPUT_FORMATS],
    ['index.bm25', 'lang', ANALYZER_LANG_CHOICES], ['mine.bm25', 'lang', ANALYZER_LANG_CHOICES],
  ];
  for (const [id, key, list] of uses) assert.equal(findCommand(id)!.options[camel(key)].choices, list, `${id} --${key}`);
});

test('help and docs show ranges: dprep help embed, eval and docs/cli.md', () => {
  const embed = renderHelp(findCommand('embed')!);
  assert.match(embed, /--batch-size <integer >=1> +inputs per forward pass \(default: the largest the memory estimate fits/);
  assert.match(renderHelp(findCommand('eval')!), /--k <list of integer >=1> +top-k cutoffs/);
  assert.match(renderHelp(findCommand('train')!), /--seed <integer 0\.\.4294967295> +seed of shuffling.*\(default: 12345\)/);
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
  assert.match(doc, /\| `--passage-words` \| integer >=1 \| `100` \|/);
  assert.match(doc, /\| `--b` \| number 0\.\.1 \|/);
});
