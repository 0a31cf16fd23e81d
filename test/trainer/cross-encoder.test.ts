/**
 * Cross-encoder parity: fixtures/trainer/cross-* were written by an independent PyTorch reference
 * (test/trainer/reference/cross_encoder_reference.py) with random weights in the HF
 * *ForSequenceClassification layouts; dprep must give the same logits and scores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { loadCrossEncoder, relevanceProbability } from '../../src/trainer/cross-encoder.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';
import { TEST_BACKEND, maxAbsDiff } from './_helpers.ts';
import type { TokenBatch } from '../../src/trainer/tokenizer.ts';

function batchOf(e: { ids: number[][]; mask: number[][]; type_ids?: number[][] }): TokenBatch {
  const [B, L] = [e.ids.length, e.ids[0].length];
  return { ids: Int32Array.from(e.ids.flat()), mask: Int32Array.from(e.mask.flat()), typeIds: e.type_ids ? Int32Array.from(e.type_ids.flat()) : new Int32Array(B * L), batch: B, seqLen: L };
}

const fixture = (name: string) => join(FIXTURES, 'trainer', name);
const expectedOf = (name: string) => JSON.parse(readFileSync(join(fixture(name), 'expected.json'), 'utf8'));

for (const [name, modelType, numLabels] of [['cross-bert', 'bert', 2], ['cross-roberta', 'roberta', 1], ['cross-distilbert', 'distilbert', 2]] as const) {
  test(`${modelType} cross-encoder (${numLabels} label(s)): logits and scores match the PyTorch reference to 1e-5 (fixtures/trainer/${name})`, async () => {
    const expected = expectedOf(name);
    const dir = name === 'cross-roberta' ? withTokenizer(name) : fixture(name);
    const ce = await loadCrossEncoder(dir, { backend: TEST_BACKEND, log: () => {} });
    try {
      assert.equal(ce.modelType, modelType);
      assert.equal(ce.numLabels, numLabels);
      const { logits, scores } = await ce.scoreBatch(batchOf(expected));
      assert.ok(maxAbsDiff(logits.flat(), expected.logits.flat()) < 1e-5, `logits ${JSON.stringify(logits)} vs ${JSON.stringify(expected.logits)}`);
      assert.ok(maxAbsDiff(scores, expected.scores) < 1e-5, `scores ${scores} vs ${expected.scores}`);
      if (numLabels === 2) {
        // sigmoid(logit1 − logit0) is softmax's probability of label 1.
        const [l0, l1] = expected.logits[0];
        assert.ok(Math.abs(relevanceProbability(scores[0]) - Math.exp(l1) / (Math.exp(l0) + Math.exp(l1))) < 1e-6);
      }
    } finally {
      ce.dispose();
    }
  });
}

for (const name of ['cross-bert', 'cross-distilbert']) {
  test(`${name}: text pairs are encoded [CLS] q [SEP] title text [SEP] (type ids where the family has them), end to end equal to the reference`, async () => {
    const expected = expectedOf(name);
    const ce = await loadCrossEncoder(fixture(name), { backend: TEST_BACKEND, batchSize: 3, log: () => {} });
    try {
      // cross-distilbert was computed on cross-bert's pairs (token ids written with its expected.json).
      const scores = await ce.score(expectedOf('cross-bert').pairs);
      assert.ok(maxAbsDiff(scores, expected.scores) < 1e-5, `scores ${[...scores]} vs ${expected.scores}`);
    } finally {
      ce.dispose();
    }
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'dprep-cross-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** The RoBERTa fixture has no tokenizer of its own (ids come from roberta-base's): lend it a vocab so it loads. */
function withTokenizer(name: string): string {
  const dir = mkdtempSync(join(tmp, name));
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(fixture(name), f), join(dir, f));
  writeFileSync(join(dir, 'vocab.txt'), ['[UNK]', '[PAD]', '[CLS]', '[SEP]'].join('\n') + '\n'); // [PAD] = 1, RoBERTa's pad id
  return dir;
}

test('refusals name the file and field: no head (a bare encoder), 3 labels, a family without a classification head', async () => {
  const bare = mkdtempSync(join(tmp, 'bare'));
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(FIXTURES, 'trainer', 'parity', f), join(bare, f));
  writeFileSync(join(bare, 'vocab.txt'), readFileSync(join(fixture('cross-bert'), 'vocab.txt')));
  await assert.rejects(loadCrossEncoder(bare, { backend: TEST_BACKEND, log: () => {} }), (e: unknown) => e instanceof InputError && /model\.safetensors.*classifier\.weight.*ForSequenceClassification/.test((e as Error).message));

  const three = mkdtempSync(join(tmp, 'three'));
  for (const f of ['model.safetensors', 'vocab.txt']) copyFileSync(join(fixture('cross-bert'), f), join(three, f));
  const cfg = JSON.parse(readFileSync(join(fixture('cross-bert'), 'config.json'), 'utf8'));
  writeFileSync(join(three, 'config.json'), JSON.stringify({ ...cfg, id2label: { 0: 'a', 1: 'b', 2: 'c' } }));
  await assert.rejects(loadCrossEncoder(three, { backend: TEST_BACKEND, log: () => {} }), (e: unknown) => e instanceof InputError && /config\.json.*id2label.*1 or 2 labels, got 3/.test((e as Error).message));

  copyFileSync(join(FIXTURES, 'trainer', 'parity-t5', 'config.json'), join(three, 'config.json'));
  await assert.rejects(loadCrossEncoder(three, { backend: TEST_BACKEND, log: () => {} }), (e: unknown) => e instanceof UsageError && /t5 has no sequence-classification head/.test((e as Error).message));
});
