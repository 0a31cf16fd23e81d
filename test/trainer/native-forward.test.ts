/**
 * The native inference forward (src/trainer/native-forward.ts) against the independent PyTorch
 * references of each family (the committed fixtures families.test.ts also checks the tfjs models
 * with), against the tfjs models on larger random weights, and through loadEncoder: chosen when
 * built, off with DPREP_NATIVE_FORWARD=0, the same bytes on any replica count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { parseBertConfig, readEncoderConfig, type EncoderConfig } from '../../src/trainer/config.ts';
import { readSafetensors } from '../../src/trainer/safetensors.ts';
import { createEncoderModel, initEncoderTensors, readFamilyTensors, type Role } from '../../src/trainer/families.ts';
import { loadNative } from '../../src/trainer/native.ts';
import { NativeForward, nativeForwardUnavailable } from '../../src/trainer/native-forward.ts';
import { embedTokens, loadEncoder } from '../../src/trainer/encoder.ts';
import type { TokenBatch } from '../../src/trainer/tokenizer.ts';
import { seededRandom } from '../../src/util/random.ts';
import { batchOf, closeness, getTf } from './_helpers.ts';

const skip = loadNative() ? false : 'native kernels not built (scripts/build-native.sh)';

/** The worst excess over |got − want| ≤ 1e-5 + 1e-4·|want| (≤ 1 passes), families.test.ts's tolerance. */
const worst = (got: ArrayLike<number>, want: ArrayLike<number>) => closeness(got, want).worst;

const REFERENCES: { dir: string; role?: Role; expected?: string }[] = [
  { dir: 'parity' },
  { dir: 'parity-roberta' },
  { dir: 'parity-camembert' },
  { dir: 'parity-distilbert' },
  { dir: 'parity-dpr', role: 'query', expected: 'expected-query.json' },
  { dir: 'parity-dpr', role: 'passage', expected: 'expected-passage.json' },
];

for (const c of REFERENCES) {
  test(`native forward matches the independent PyTorch reference (fixtures/trainer/${c.dir}${c.role ? `, ${c.role}` : ''})`, { skip }, async () => {
    const dir = join(FIXTURES, 'trainer', c.dir);
    const expected = JSON.parse(await readFile(join(dir, c.expected ?? 'expected.json'), 'utf8'));
    const config = await readEncoderConfig(join(dir, 'config.json'));
    const file = join(dir, 'model.safetensors');
    const { tensors } = readFamilyTensors(config, (await readSafetensors(file)).tensors, file, c.role);
    const fwd = new NativeForward(config, tensors);
    const batch = batchOf(expected);
    const s = worst(fwd.sequence(batch), expected.sequence_output.flat(2));
    assert.ok(s <= 1, `sequence output off by ${s.toFixed(2)}× the tolerance`);
    for (const pooling of ['cls', 'mean'] as const) {
      const want = (expected[`${pooling}_projected`] ?? expected[pooling]).flat();
      const r = worst(fwd.embed(batch, pooling, false), want);
      assert.ok(r <= 1, `${pooling} pooling off by ${r.toFixed(2)}× the tolerance`);
    }
    if (config.model_type === 'roberta') {
      // Sensitivity: BERT's positions (0..L-1) on the same weights are far from the reference.
      const asBert = new NativeForward({ ...config, model_type: 'bert' }, tensors);
      assert.ok(worst(asBert.sequence(batch), expected.sequence_output.flat(2)) > 10);
    }
  });
}

function randomBatch(lengths: number[], vocab: number, seed: number, types = true): TokenBatch {
  const rng = seededRandom(seed);
  const L = Math.max(...lengths);
  const B = lengths.length;
  const ids = new Int32Array(B * L);
  const typeIds = new Int32Array(B * L);
  const mask = new Int32Array(B * L);
  lengths.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      ids[b * L + t] = 2 + Math.floor(rng() * (vocab - 2));
      typeIds[b * L + t] = types && t >= n / 2 ? 1 : 0;
      mask[b * L + t] = 1;
    }
  });
  return { ids, typeIds, mask, batch: B, seqLen: L };
}

const FAMILY_CONFIGS: Record<string, Record<string, unknown>> = {
  bert: {},
  'xlm-roberta': { model_type: 'xlm-roberta', type_vocab_size: 1, pad_token_id: 1, max_position_embeddings: 40 },
  dpr: { model_type: 'dpr', projection_dim: 12 },
  relu: { hidden_act: 'relu' },
  gelu_new: { hidden_act: 'gelu_new' },
};

for (const [label, over] of Object.entries({ ...FAMILY_CONFIGS, distilbert: {} })) {
  test(`native forward computes what the tfjs ${label} model computes (48-d, 3 layers, padded batch)`, { skip }, async () => {
    const tf = await getTf();
    let config: EncoderConfig;
    if (label === 'distilbert') {
      config = await readEncoderConfig(join(FIXTURES, 'trainer', 'parity-distilbert', 'config.json'));
      config = { ...config, hidden_size: 48, intermediate_size: 96, num_attention_heads: 4, num_hidden_layers: 3, initializer_range: 0.2 };
    } else {
      config = parseBertConfig({
        vocab_size: 90, hidden_size: 48, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 96, max_position_embeddings: 32,
        type_vocab_size: 2, initializer_range: 0.2, layer_norm_eps: 1e-12, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
        hidden_act: 'gelu', ...over,
      }, 'test-config');
    }
    const tensors = initEncoderTensors(config, 7);
    const batch = randomBatch([17, 5, 1, 12], config.vocab_size, 3, config.type_vocab_size > 1);
    const model = createEncoderModel(tf, config, tensors);
    const fwd = new NativeForward(config, tensors);
    assert.equal(fwd.dim, model.dim);
    const seq = tf.tidy(() => model.forward(batch));
    const s = worst(fwd.sequence(batch), (await seq.data()) as Float32Array);
    seq.dispose();
    assert.ok(s <= 1, `sequence output off by ${s.toFixed(2)}× the tolerance`);
    for (const pooling of ['cls', 'mean'] as const)
      for (const normalize of [false, true]) {
        const r = worst(fwd.embed(batch, pooling, normalize), embedTokens(tf, model, batch, pooling, normalize));
        assert.ok(r <= 1, `${pooling}${normalize ? ' normalized' : ''} off by ${r.toFixed(2)}× the tolerance`);
      }
    // Kept buffers: a smaller batch after a larger one is computed from its own inputs alone.
    const small = randomBatch([3], config.vocab_size, 4, config.type_vocab_size > 1);
    assert.deepEqual(fwd.embed(small, 'cls', false), new NativeForward(config, tensors).embed(small, 'cls', false));
    model.dispose();
  });
}

test('native forward refuses token ids outside the vocabulary and sequences past the positions, naming the numbers', { skip }, () => {
  const config = parseBertConfig({ vocab_size: 20, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 6 }, 'c');
  const fwd = new NativeForward(config, initEncoderTensors(config, 1));
  const bad = randomBatch([3], 20, 1);
  bad.ids[1] = 20;
  assert.throws(() => fwd.embed(bad, 'cls', false), /token id 20 outside the vocabulary \(vocab_size 20\)/);
  assert.throws(() => fwd.embed(randomBatch([7], 20, 1), 'cls', false), /sequence length 7 exceeds max_position_embeddings 6/);
});

test('native forward: T5 and DPREP_NATIVE_FORWARD=0 stay on tfjs, with the reason', () => {
  const config = parseBertConfig({ vocab_size: 20, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 }, 'c');
  assert.match(nativeForwardUnavailable({ ...config, model_type: 't5' }) ?? '', /model_type t5 runs on tfjs/);
  const before = process.env.DPREP_NATIVE_FORWARD;
  process.env.DPREP_NATIVE_FORWARD = '0';
  try {
    assert.equal(nativeForwardUnavailable(config), 'DPREP_NATIVE_FORWARD=0');
  } finally {
    if (before === undefined) delete process.env.DPREP_NATIVE_FORWARD;
    else process.env.DPREP_NATIVE_FORWARD = before;
  }
});

test('loadEncoder runs the native forward when built: close to tfjs, the same bytes on 1 and 2 replicas', { skip }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dprep-native-fwd-'));
  try {
    const dir = join(tmp, 'enc');
    await mkdir(dir);
    const src = join(FIXTURES, 'trainer', 'parity');
    for (const f of ['config.json', 'model.safetensors']) await writeFile(join(dir, f), await readFile(join(src, f)));
    const vocab = Array.from({ length: 40 }, (_, i) => ['[PAD]', '[UNK]', '[CLS]', '[SEP]'][i] ?? `w${i}`);
    await writeFile(join(dir, 'vocab.txt'), vocab.join('\n') + '\n');
    const inputs = Array.from({ length: 23 }, (_, i) => ({ title: `w${4 + (i % 7)}`, text: Array.from({ length: 1 + ((i * 5) % 13) }, (_, j) => `w${4 + ((i + j) % 30)}`).join(' ') }));
    const opts = { maxLength: 20, batchSize: 4, log: () => {} };
    const one = await loadEncoder(dir, opts);
    const two = await loadEncoder(dir, { ...opts, workers: 2 });
    const before = process.env.DPREP_NATIVE_FORWARD;
    process.env.DPREP_NATIVE_FORWARD = '0';
    const viaTf = await loadEncoder(dir, opts);
    if (before === undefined) delete process.env.DPREP_NATIVE_FORWARD;
    else process.env.DPREP_NATIVE_FORWARD = before;
    try {
      assert.equal(one.forward, 'native');
      assert.equal(two.forward, 'native');
      assert.equal(viaTf.forward, 'tfjs');
      const [a, b, t] = [await one.encode(inputs), await two.encode(inputs), await viaTf.encode(inputs)];
      assert.deepEqual(Buffer.from(b.buffer), Buffer.from(a.buffer), 'replicas changed the bytes');
      const r = worst(a, t);
      assert.ok(r <= 1, `native vs tfjs off by ${r.toFixed(2)}× the tolerance`);
    } finally {
      one.dispose();
      two.dispose();
      viaTf.dispose();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});


test('the native forward memory estimate bounds what the forward holds, and the batch comes from it', { skip }, async () => {
  const { estimateNativeForwardMemory, chooseEncodeBatch, GB } = await import('../../src/trainer/memory.ts');
  const config = parseBertConfig({ vocab_size: 300, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 64 }, 'c');
  const tensors = initEncoderTensors(config, 2);
  for (const [B, L] of [[8, 64], [3, 17]]) {
    const fwd = new NativeForward(config, tensors);
    fwd.embed(randomBatch(Array.from({ length: B }, () => L), 300, 5), 'mean', false);
    const estimate = estimateNativeForwardMemory(config, { batch: B, len: L }).tensorBytes;
    // The tensors map the forward was built from is the caller's; the forward's own copies are counted.
    assert.ok(estimate >= fwd.bytes, `estimate ${estimate} below the ${fwd.bytes} bytes held at ${B} × ${L}`);
    assert.ok(estimate <= 1.6 * fwd.bytes, `estimate ${estimate} far above the ${fwd.bytes} bytes held at ${B} × ${L}`);
  }
  // BERT-base at 256 tokens: the wasm heap's limit no longer applies, the given budget does.
  const base = parseBertConfig({ vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512 }, 'base');
  const wasm = chooseEncodeBatch(base, { maxLength: 256, native: true, backend: 'wasm' });
  const nat = chooseEncodeBatch(base, { maxLength: 256, native: true, backend: 'wasm', nativeForward: true, maxMemoryGb: 3.8 });
  assert.ok(nat.batch > wasm.batch, `native forward batch ${nat.batch} vs tfjs ${wasm.batch}`);
  assert.throws(() => chooseEncodeBatch(base, { maxLength: 256, native: true, backend: 'wasm', nativeForward: true, maxMemoryGb: 1, requested: 64 }), /--batch 64 needs an estimated 1\.\d\d GB/);
  assert.ok(nat.bytes <= 3.8 * GB);
});
