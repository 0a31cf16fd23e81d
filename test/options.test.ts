import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineCommand, parseFlags, resolveOptions, type OptionValues } from '../src/options.ts';
import { UsageError } from '../src/util/errors.ts';

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
