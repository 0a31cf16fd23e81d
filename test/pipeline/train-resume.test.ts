import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { trainCommand } from '../../src/commands/train.ts';
import { parsePipeline } from '../../src/pipeline/schema.ts';
import { planPipeline } from '../../src/pipeline/plan.ts';
import { commandRegistry } from '../../src/pipeline/registry.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import { writeModelDir } from '../../src/trainer/checkpoint.ts';
import { readSafetensors } from '../../src/trainer/safetensors.ts';
import { TEST_BACKEND, tinyConfig } from '../trainer/_helpers.ts';
import { tempProject } from './_helpers.ts';

const dir = await tempProject();
const model = join(dir, 'init');
const config = tinyConfig({ vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, max_position_embeddings: 128, initializer_range: 0.02, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
await writeModelDir(model, config, initBertTensors(config, 5), join(FIXTURES, 'models', 'bert-tiny'));

const PIPELINE = `name: resume-train
seed: 4
allow-outside: true
steps:
  train:
    uses: train
    with:
      train: ${join(FIXTURES, 'trainer', 'squad-bm25.train.jsonl')}
      query-model: init
      out: run
      batch-size: 16
      epochs: 2
      eval-every: 2
      max-query-len: 24
      max-passage-len: 64
      lr: 0.002
      backend: ${TEST_BACKEND}
      workers: 1
`;

/**
 * The real train command; while `killAfter` is set, an attempt trains only that many steps
 * (its checkpoint is saved) and then dies, as a kill after a checkpoint would leave it. The
 * cut is made inside the command, so the step's cache key is the one of the whole run.
 */
let killAfter: number | undefined;
const interruptible = {
  ...trainCommand,
  async run(opts: Parameters<typeof trainCommand.run>[0], ctx: Parameters<typeof trainCommand.run>[1]) {
    if (killAfter === undefined) return trainCommand.run(opts, ctx);
    await trainCommand.run({ ...opts, maxSteps: killAfter }, ctx);
    throw new Error(`killed after step ${killAfter}`);
  },
};

async function runIn(workdir: string): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  const plan = planPipeline(parsePipeline(PIPELINE, join(dir, 'p.yaml'), 'p.yaml'), { commands: commandRegistry([interruptible]), workdir });
  const r = await runPipeline(plan, { log: (l) => lines.push(l) });
  return { ok: r.ok, lines };
}

test('pipeline train step: after a kill past a checkpoint the rerun resumes from it and ends bit-identical to an uninterrupted run', async () => {
  killAfter = undefined;
  assert.equal((await runIn(join(dir, 'whole'))).ok, true);

  killAfter = 2;
  const killed = await runIn(join(dir, 'parts'));
  assert.equal(killed.ok, false);
  assert.ok(killed.lines.some((l) => /killed after step 2/.test(l)));

  killAfter = undefined;
  const rerun = await runIn(join(dir, 'parts'));
  assert.equal(rerun.ok, true, rerun.lines.join('\n'));
  const resumed = rerun.lines.find((l) => /trainer: resumed from .* at step (\d+)/.test(l));
  assert.ok(resumed, `no resume in the log:\n${rerun.lines.join('\n')}`);
  assert.ok(Number(/at step (\d+)/.exec(resumed)![1]) > 0, resumed);

  for (const enc of ['query_encoder', 'passage_encoder']) {
    const a = (await readSafetensors(join(dir, 'whole', 'run', enc, 'model.safetensors'))).tensors;
    const b = (await readSafetensors(join(dir, 'parts', 'run', enc, 'model.safetensors'))).tensors;
    assert.equal(a.size, b.size);
    for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, `${enc} ${name}`);
  }
});
