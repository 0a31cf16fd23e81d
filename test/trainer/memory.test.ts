import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateTrainingMemory, GB, paramCount } from '../../src/trainer/memory.ts';
import { parseBertConfig } from '../../src/trainer/config.ts';

const base = parseBertConfig({ vocab_size: 30522, max_position_embeddings: 512, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 }, 'bert-base');
const step = (o: Partial<Parameters<typeof estimateTrainingMemory>[2]>) =>
  estimateTrainingMemory(base, base, { microQuestions: 1, passagesPerQuestion: 2, queryLen: 64, passageLen: 256, shared: false, accumulate: true, native: true, ...o });

test('memory estimate follows the measured wasm peaks of BERT-base (a margin above, refusing what ran out)', () => {
  // Measured 2026-12-01 with the native kernels: 2.51 GB (1 question, passages of 256, GradCache over
  // 2 questions; 3.32 GB over 16), 2.96 GB (2 questions, passages of 128, one pass); 2 questions with
  // passages of 256 ran out of 4 GB.
  const one = step({}).tensorBytes / GB;
  const twoShort = step({ microQuestions: 2, passageLen: 128, accumulate: false }).tensorBytes / GB;
  const twoLong = step({ microQuestions: 2 }).tensorBytes / GB;
  assert.ok(one > 3.32 && one < 3.8, `${one}`);
  assert.ok(twoShort > 2.96 && twoShort < 3.8, `${twoShort}`);
  assert.ok(twoLong > 4, `${twoLong}`);
  // tfjs's own kernels keep far more alive (Identity copies, XNNPACK packed weights).
  assert.ok(step({ native: false }).tensorBytes > 1.5 * step({}).tensorBytes);
});

test('memory estimate grows with batch and length; replicas add their shared gradient buffers', () => {
  assert.ok(step({ microQuestions: 4 }).tensorBytes > step({ microQuestions: 2 }).tensorBytes);
  assert.ok(step({ passageLen: 512 }).tensorBytes > step({}).tensorBytes);
  const params = 2 * paramCount(base);
  assert.equal(step({ replicas: 2 }).jsBytes - step({}).jsBytes, 2 * 4 * params);
  assert.ok(step({ shared: true }).tensorBytes < step({}).tensorBytes);
});
