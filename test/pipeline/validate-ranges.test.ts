/**
 * Option ranges are checked where a pipeline is planned: `dprep validate` names file:line:col,
 * step and option of every out-of-range value, and `dprep run` refuses before any step runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, FIXTURES } from '../_paths.ts';
import { tempProject, writePipeline } from './_helpers.ts';

const ENV = { ...process.env, DPREP_QUIET: '1' };
const dprep = (args: string[], cwd: string) => spawnSync(process.execPath, [CLI, ...args], { cwd, env: ENV, encoding: 'utf8' });

/** convert.squad → mine.bm25 and eval on its outputs; `bad` replaces option lines by out-of-range ones. */
function pipeline(bad: Record<string, string>): string {
  const yaml = `name: ranges
seed: 13
allow-outside: true
steps:
  convert:
    uses: convert.squad
    with:
      input: ${join(FIXTURES, 'quickstart', 'squad-mini-train.json')}
      out: squad.dpr.jsonl
      corpus: squad.corpus.jsonl
      passage-words: 20
  bm25:
    uses: mine.bm25
    with:
      examples: \${steps.convert.outputs.out}
      corpus: \${steps.convert.outputs.corpus}
      out: stage1.dpr.json
      depth: 50
      seed: 7
  score:
    uses: eval
    with:
      run: \${steps.bm25.outputs.out}
      examples: \${steps.convert.outputs.out}
      corpus: \${steps.convert.outputs.corpus}
      k: [1, 5]
`;
  return Object.entries(bad).reduce((text, [from, to]) => {
    assert.ok(text.includes(from), from);
    return text.replace(from, to);
  }, yaml);
}

test('validate: out-of-range values of several commands are each named by file:line:col, step and option', async () => {
  const dir = await tempProject();
  await writePipeline(dir, pipeline({}), 'good.yaml');
  const good = dprep(['validate', 'good.yaml'], dir);
  assert.equal(good.status, 0, good.stderr);
  await writePipeline(dir, pipeline({ 'depth: 50': 'depth: 0', 'passage-words: 20': 'passage-words: 0', 'seed: 7': 'seed: -1', 'k: [1, 5]': 'k: [1, 0]' }), 'bad.yaml');
  const bad = dprep(['validate', 'bad.yaml'], dir);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /4 problems/);
  assert.match(bad.stderr, /bad\.yaml:11:22: steps\.convert\.with: option "passage-words": expected an integer >= 1, got 0/);
  assert.match(bad.stderr, /bad\.yaml:18:14: steps\.bm25\.with: option "depth": expected an integer >= 1, got 0/);
  assert.match(bad.stderr, /bad\.yaml:19:13: steps\.bm25\.with: option "seed": expected an integer in \[0, 4294967295\], got -1/);
  assert.match(bad.stderr, /bad\.yaml:\d+:\d+: steps\.score\.with: option "k" item "0": expected an integer >= 1, got 0/);
});

test('run: an out-of-range value in a later step stops the pipeline before the first step runs', async () => {
  const dir = await tempProject();
  await writePipeline(dir, pipeline({ 'depth: 50': 'depth: 0' }), 'p.yaml');
  const r = dprep(['run', 'p.yaml'], dir);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /p\.yaml:18:14: steps\.bm25\.with: option "depth": expected an integer >= 1, got 0/);
  assert.equal(existsSync(join(dir, 'squad.dpr.jsonl')) || existsSync(join(dir, '.dprep')), false, 'nothing ran');
});
