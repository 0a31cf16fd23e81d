/**
 * Training works for every family: a tiny RoBERTa-, DistilBERT-, T5- and DPR-with-projection-shaped
 * bi-encoder each trains a few steps with the loss going down, GradCache micro-batches give the
 * one-pass gradient, and two data-parallel replicas give the one-process gradient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BiEncoder } from '../../src/trainer/biencoder.ts';
import { parseEncoderConfig, type EncoderConfig } from '../../src/trainer/config.ts';
import { initEncoderTensors } from '../../src/trainer/families.ts';
import { AdamW } from '../../src/trainer/optimizer.ts';
import { ReplicaPool } from '../../src/trainer/parallel.ts';
import { loadTf } from '../../src/trainer/backend.ts';
import type { TextTokenizer } from '../../src/trainer/tokenizer.ts';
import type { BiEncoderBatch } from '../../src/trainer/data.ts';
import { maxAbsDiff, TEST_BACKEND } from './_helpers.ts';

/** Characters → ids 4..59 with first=2, last=3 (never RoBERTa's pad id 1). */
const charTokenizer = (maxLength: number): TextTokenizer => ({
  maxLength,
  async encode(inputs) {
    return inputs.map(({ text }) => {
      const ids = [2, ...[...text].map((c) => 4 + (c.charCodeAt(0) % 56)), 3].slice(0, maxLength);
      return { ids, typeIds: ids.map(() => 0) };
    });
  },
});

const BATCH: BiEncoderBatch = {
  questions: [{ text: 'who won?' }, { text: 'where is it' }, { text: 'when' }, { text: 'why not then' }],
  passages: [
    { text: 'the broncos won' }, { text: 'a hard negative' }, { text: 'it is in paris' }, { text: 'somewhere else' },
    { text: 'in 1990' }, { text: 'never at all' }, { text: 'because of rain' }, { text: 'no reason given here' },
  ],
  positiveIndex: [0, 2, 4, 6],
};

const dims = { vocab_size: 60, max_position_embeddings: 40, initializer_range: 0.3, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
const FAMILIES: [string, EncoderConfig][] = [
  ['roberta', parseEncoderConfig({ ...dims, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, model_type: 'roberta', type_vocab_size: 1, layer_norm_eps: 1e-5 }, 'roberta')],
  ['distilbert', parseEncoderConfig({ vocab_size: 60, max_position_embeddings: 40, initializer_range: 0.3, dropout: 0, attention_dropout: 0, dim: 8, n_layers: 1, n_heads: 2, hidden_dim: 16, model_type: 'distilbert' }, 'distilbert')],
  ['t5', parseEncoderConfig({ vocab_size: 60, d_model: 8, d_kv: 4, d_ff: 16, num_layers: 2, num_heads: 2, dropout_rate: 0, initializer_factor: 1, model_type: 't5', feed_forward_proj: 'gated-gelu', relative_attention_num_buckets: 8, relative_attention_max_distance: 16 }, 't5')],
  ['dpr with projection', parseEncoderConfig({ ...dims, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, model_type: 'dpr', projection_dim: 6 }, 'dpr')],
];

async function setup(config: EncoderConfig) {
  const { tf, backend } = await loadTf(TEST_BACKEND);
  const tensors = { query: initEncoderTensors(config, 11), passage: initEncoderTensors(config, 12) };
  const model = new BiEncoder(tf, { query: config, passage: config }, tensors, { query: charTokenizer(16), passage: charTokenizer(24) }, { pooling: 'cls', normalize: false, shared: false });
  return { tf, backend, tensors, model };
}

for (const [name, config] of FAMILIES) {
  test(`${name} bi-encoder: AdamW steps lower the loss; GradCache equals one pass`, async () => {
    const { model } = await setup(config);
    const first = await model.lossAndGrads(BATCH, 4, 1);
    assert.ok([...first.grads.values()].some((g) => g.some((x) => x !== 0)));
    for (const micro of [2, 1]) {
      const acc = await model.lossAndGrads(BATCH, micro, 1);
      assert.ok(Math.abs(acc.loss - first.loss) < 1e-5, `micro ${micro}: loss ${acc.loss} vs ${first.loss}`);
      for (const [key, g] of first.grads) assert.ok(maxAbsDiff(acc.grads.get(key)!, g) < 1e-5, `micro ${micro}: ${key}`);
    }
    const opt = new AdamW({ lr: 3e-2, weightDecay: 0 });
    const params = await model.masterWeights();
    let loss = first.loss;
    for (let step = 0; step < 6; step++) {
      const { loss: l, grads } = await model.lossAndGrads(BATCH, 2, step);
      if (step === 0) loss = l;
      opt.apply(params, grads, 3e-2);
      opt.step++;
      model.assign(params);
    }
    const after = (await model.lossAndGrads(BATCH, 4, 99)).loss;
    assert.ok(after < loss * 0.9, `loss ${loss} → ${after}`);
    model.dispose();
  });

  test(`${name} bi-encoder: 2 replicas give the one-process loss and gradient`, async () => {
    const { tf, backend, tensors, model } = await setup(config);
    const one = await model.lossAndGrads(BATCH, 8, 7);
    const scale = Math.max(...[...one.grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))));
    const { pool } = await ReplicaPool.start(tf, 2, { backend, configs: { query: config, passage: config }, options: model.opts, tensors, master: await model.masterWeights() });
    try {
      for (const micro of [8, 1]) {
        const two = await pool.lossAndGrads(model, BATCH, micro, 7);
        assert.ok(Math.abs(two.loss - one.loss) < 1e-5, `micro ${micro}: loss ${two.loss} vs ${one.loss}`);
        for (const [key, g] of one.grads) assert.ok(maxAbsDiff(two.grads.get(key)!, g) / scale < 1e-4, `micro ${micro}: ${key}`);
      }
    } finally {
      await pool.close();
      model.dispose();
    }
  });
}
