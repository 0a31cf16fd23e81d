/**
 * One seed path: a command's `seed` option (declared with seedOption). Under a pipeline the step's
 * derived seed fills it unless the step sets one; on the CLI --seed wins, else the declared fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, FIXTURES } from '../_paths.ts';
import { commands } from '../../src/commands/index.ts';
import { debugCommands } from '../../src/commands/debug.ts';
import { kebab, type OptionsSpec } from '../../src/options.ts';
import { parsePipeline } from '../../src/pipeline/schema.ts';
import { planPipeline } from '../../src/pipeline/plan.ts';
import { deriveSeed } from '../../src/util/random.ts';
import { tempProject, writePipeline } from './_helpers.ts';

const ENV = { ...process.env, DPREP_QUIET: '1' };
function dprep(args: string[], cwd: string): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: ENV, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The smallest `with:` a command accepts: its required options, filled by type and role. */
function requiredWith(options: OptionsSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, opt] of Object.entries(options)) {
    if (!opt.required) continue;
    const value = opt.role === 'output' ? `out-${kebab(key)}` : opt.role === 'input' ? 'in.txt' : (opt.choices?.[0] ?? opt.min ?? 1);
    out[kebab(key)] = opt.type === 'list' ? [value] : value;
  }
  return out;
}

const seeded = [...commands, ...debugCommands].filter((c) => 'seed' in c.options);

test('seeds: every command with a seed gets the step seed derived from the pipeline seed, unless the step sets one', () => {
  assert.ok(seeded.length >= 5, `commands with a seed: ${seeded.map((c) => c.id).join(', ')}`);
  for (const cmd of seeded) {
    const plan = (pipelineSeed: number, extra: Record<string, unknown> = {}) => {
      const text = stringify({ name: 'seeds', seed: pipelineSeed, steps: { s1: { uses: cmd.id, with: { ...requiredWith(cmd.options), ...extra } } } });
      return planPipeline(parsePipeline(text, '/tmp/seeds/p.yaml'), { commands: seeded, checkInputsExist: false }).steps[0];
    };
    const step = plan(13);
    assert.equal(step.options.seed, deriveSeed(13, 's1'), cmd.id);
    assert.equal(step.params.seed, step.options.seed, `${cmd.id}: the seed is part of the cache key`);
    assert.notEqual(plan(14).options.seed, step.options.seed, `${cmd.id}: another pipeline seed, another step seed`);
    assert.equal(plan(13, { seed: 5 }).options.seed, 5, `${cmd.id}: the step's own seed wins`);
    assert.equal(plan(13, { seed: 5 }).seed, 5, `${cmd.id}: and is the one recorded`);
  }
});

const PIPELINE = (seed: number) => `name: seeds
seed: ${seed}
allow-outside: true
steps:
  convert:
    uses: convert.squad
    with:
      input: ${join(FIXTURES, 'quickstart', 'squad-mini-train.json')}
      out: squad.dpr.jsonl
      corpus: squad.corpus.jsonl
  bm25:
    uses: mine.bm25
    with:
      examples: \${steps.convert.outputs.out}
      corpus: \${steps.convert.outputs.corpus}
      out: stage1.dpr.jsonl
      strategy: random
      negatives: 3
`;

test('seeds: mine.bm25 --strategy random samples with the derived seed under a pipeline; on the CLI --seed wins', async () => {
  const dir = await tempProject();
  await writePipeline(dir, PIPELINE(13), 'p13.yaml');
  await writePipeline(dir, PIPELINE(14), 'p14.yaml');
  dprep(['run', 'p13.yaml', '--workdir', 'w13'], dir);
  const piped = await readFile(join(dir, 'w13', 'stage1.dpr.jsonl'), 'utf8');
  dprep(['run', 'p13.yaml', '--workdir', 'w13', '--force', 'bm25'], dir);
  assert.equal(await readFile(join(dir, 'w13', 'stage1.dpr.jsonl'), 'utf8'), piped, 'a rerun gives the same negatives');
  dprep(['run', 'p14.yaml', '--workdir', 'w14'], dir);
  assert.notEqual(await readFile(join(dir, 'w14', 'stage1.dpr.jsonl'), 'utf8'), piped, 'another pipeline seed samples others');

  const cli = async (out: string, ...seed: string[]) => {
    dprep(['mine', 'bm25', '--examples', 'w13/squad.dpr.jsonl', '--corpus', 'w13/squad.corpus.jsonl', '--strategy', 'random', '--negatives', '3', '--out', out, ...seed], dir);
    return readFile(join(dir, out), 'utf8');
  };
  const derived = deriveSeed(13, 'bm25');
  assert.equal(await cli('derived.jsonl', '--seed', String(derived)), piped, 'the pipeline ran the step with its derived seed');
  assert.notEqual(await cli('other.jsonl', '--seed', String(derived + 1)), piped, '--seed is used on the CLI');
  assert.equal(await cli('fallback.jsonl'), await cli('thirteen.jsonl', '--seed', '13'), 'without --seed: the declared fallback, 13');
});
