import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTrainingMemory, chooseEncodeBatch, estimateEncodeMemory, estimateTrainingMemory, GB, paramCount } from '../../src/trainer/memory.ts';
import { parseBertConfig } from '../../src/trainer/config.ts';
import { autoWorkers } from '../../src/trainer/encoder.ts';

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

test('the pre-flight check logs its estimate and refuses what does not fit, saying what to change', () => {
  const o = { batchSize: 1, gradAccum: 2, hardNegatives: 1, maxQueryLen: 64, maxPassageLen: 256, sharedEncoder: false, maxMemoryGb: undefined };
  const wasm = { backend: 'wasm' as const, threads: 1, native: true, workers: 1 };
  const logs: string[] = [];
  checkTrainingMemory(base, base, o, wasm, (m) => logs.push(m));
  assert.match(logs[0], /backend wasm \(1 thread, native OpenBLAS matmul\); estimated memory 3\.\d\d GB tensors .* \(budget 3\.8 GB\)/);
  // Two questions of 256-token passages ran out of the 4 GB heap (see above).
  assert.throws(() => checkTrainingMemory(base, base, { ...o, batchSize: 2 }, wasm, () => {}), /exceeds the budget 3\.8 GB \(the wasm backend's heap is 4 GB\)\. Lower --batch-size and raise --grad-accum/);
  assert.doesNotThrow(() => checkTrainingMemory(base, base, { ...o, batchSize: 2, maxMemoryGb: 8 }, wasm, () => {}));
  assert.throws(() => checkTrainingMemory(base, base, o, { ...wasm, workers: 10_000 }, () => {}), /10000 data-parallel replicas .* exceeds the free RAM/);
  const noNative: string[] = [];
  checkTrainingMemory(base, base, { ...o, maxMemoryGb: 16 }, { ...wasm, native: false, nativeError: 'not built' }, (m) => noNative.push(m));
  assert.match(noNative[1], /native kernels not used \(not built\)/);
});

test('encode memory estimate sits above the measured wasm heaps of BERT-base inference and refuses what aborted', () => {
  // Measured 2026-12-02 (native kernels, one embed in one tidy): heap 3.50e9 bytes at 12 × 256 tokens,
  // 3.71e9 at 13 × 256, 2.44e9 at 8 × 256; 64 × 256 (encode's old default) aborted in wasm.
  const at = (batch: number, len = 256) => estimateEncodeMemory(base, { batch, len, native: true }).tensorBytes;
  assert.ok(at(8) > 2.44e9 && at(8) < 1.2 * 2.44e9, `${at(8)}`);
  assert.ok(at(12) > 3.5e9 && at(13) > 3.71e9, `${at(12)} ${at(13)}`);
  assert.ok(at(64) > 4 * GB);
  // tfjs's own kernels: 1.91e9 heap at 4 × 128.
  const plain = estimateEncodeMemory(base, { batch: 4, len: 128, native: false }).tensorBytes;
  assert.ok(plain > 1.91e9 && plain < 1.3 * 1.91e9, `${plain}`);
});

test('the encode batch is the largest that fits (at most the cap); a requested one that cannot fit is refused with the numbers', () => {
  const o = { maxLength: 256, native: true, backend: 'wasm' as const };
  const chosen = chooseEncodeBatch(base, o);
  assert.ok(chosen.batch >= 8 && chosen.batch <= 13, `${chosen.batch}`);
  assert.equal(chosen.batch, chosen.largest);
  assert.ok(chosen.bytes <= chosen.budget && estimateEncodeMemory(base, { batch: chosen.batch + 1, len: 256, native: true }).tensorBytes > chosen.budget);
  // Short inputs: capped at 64.
  assert.equal(chooseEncodeBatch(base, { ...o, maxLength: 32 }).batch, 64);
  assert.equal(chooseEncodeBatch(base, { ...o, maxLength: 32, cap: 200 }).batch > 64, true);
  // Another encoder's weights in the same heap leave less room.
  assert.ok(chooseEncodeBatch(base, { ...o, residentBytes: 1 * GB }).batch < chosen.batch);
  assert.equal(chooseEncodeBatch(base, { ...o, requested: chosen.largest }).batch, chosen.largest);
  assert.throws(() => chooseEncodeBatch(base, { ...o, requested: 64, flag: '--batch' }), (err: Error) => {
    assert.equal(err.name, 'UsageError');
    assert.match(err.message, new RegExp(`^--batch 64 needs an estimated 1\\d\\.\\d\\d GB of tensors per forward pass \\(bert, 12 layers, hidden 768, 256 tokens\\), over the budget of 3\\.8 GB \\(the wasm backend's heap is 4 GB\\); the largest batch that fits is ${chosen.largest}`));
    return true;
  });
  // A budget too small for one sequence says so.
  assert.throws(() => chooseEncodeBatch(base, { ...o, maxMemoryGb: 0.5 }), /one sequence of 256 tokens needs an estimated .* lower --max-length/);
});

test('auto replicas: one per core, at most 4, as many as 80% of the free RAM holds, at least 1', () => {
  const GiB = 2 ** 30;
  assert.equal(autoWorkers(1 * GiB, 2, 20 * GiB), 2);
  assert.equal(autoWorkers(1 * GiB, 16, 64 * GiB), 4);
  assert.equal(autoWorkers(3.6 * GiB, 16, 10 * GiB), 2);
  assert.equal(autoWorkers(3.6 * GiB, 16, 2 * GiB), 1);
});
