import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, SHARED_DATA } from '../_paths.ts';
import { bertConfigJson, encoderConfigJson, parseBertConfig, parseEncoderConfig, readBertConfig, readEncoderConfig } from '../../src/trainer/config.ts';

const base = { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 };

test('real configs parse: bert-tiny from the shared models and fixtures', async () => {
  for (const file of [join(SHARED_DATA, 'models', 'bert-tiny-config-only', 'config.json'), join(FIXTURES, 'models', 'bert-tiny', 'config.json')]) {
    const c = await readBertConfig(file);
    assert.equal(c.hidden_size, 128);
    assert.equal(c.num_hidden_layers, 2);
    assert.equal(c.layer_norm_eps, 1e-12);
  }
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['unknown field', { ...base, rotary_dim: 4 }, /field "rotary_dim".*unknown config field/],
  ['unsupported activation', { ...base, hidden_act: 'swish' }, /field "hidden_act"/],
  ['relative positions', { ...base, position_embedding_type: 'relative_key' }, /field "position_embedding_type"/],
  ['missing required', { hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 }, /field "vocab_size".*missing/],
  ['fractional integer', { ...base, hidden_size: 8.5 }, /field "hidden_size".*integer/],
  ['heads do not divide hidden', { ...base, num_attention_heads: 3 }, /num_attention_heads/],
  ['DPR projection layer', { ...base, projection_dim: 128 }, /projection_dim/],
];
for (const [name, raw, message] of bad) {
  test(`config refused: ${name}`, () => assert.throws(() => parseBertConfig(raw, 'cfg.json'), (e: Error) => /cfg\.json/.test(e.message) && message.test(e.message)));
}

test('defaults are filled and config.json round-trips through bertConfigJson', () => {
  const c = parseBertConfig({ ...base, transformers_version: '4.52.4' }, 'cfg.json');
  assert.equal(c.layer_norm_eps, 1e-12);
  assert.equal(c.hidden_act, 'gelu');
  const again = JSON.parse(bertConfigJson(c));
  assert.deepEqual(again.architectures, ['BertModel']);
  assert.equal(again.model_type, 'bert');
  assert.deepEqual(parseBertConfig(again, 'again.json').hidden_size, 8);
});

const MODELS = join(SHARED_DATA, 'models');
/** Real configs of each family (../shared/data/models) → what dprep reads from them. */
const realConfigs: [string, Partial<Record<string, unknown>>][] = [
  ['e5-small-v2-config/config.json', { model_type: 'bert', hidden_size: 384, num_hidden_layers: 12, layer_norm_eps: 1e-12, pad_token_id: 0 }],
  ['camembert-base-tokenizer/config.json', { model_type: 'camembert', hidden_size: 768, type_vocab_size: 1, layer_norm_eps: 1e-5, max_position_embeddings: 514 }],
  ['distilroberta-base-config/config.json', { model_type: 'roberta', num_hidden_layers: 6, pad_token_id: 1, vocab_size: 50265 }],
  // No model_type: the 2019 roberta-base config reads as BERT (HF too needs a model_type or a name to tell).
  ['roberta-base/config.legacy.json', { model_type: 'bert', layer_norm_eps: 1e-5, type_vocab_size: 1 }],
  ['tiny-distilbert-onnx/config.json', { model_type: 'distilbert', hidden_size: 2, num_hidden_layers: 2, intermediate_size: 2, type_vocab_size: 0, layer_norm_eps: 1e-12 }],
];
for (const [file, want] of realConfigs) {
  test(`real config parses: ${file}`, async () => {
    const c = await readEncoderConfig(join(MODELS, file));
    for (const [k, v] of Object.entries(want)) assert.equal((c as unknown as Record<string, unknown>)[k], v, k);
  });
}

const families: [string, Record<string, unknown>, Partial<Record<string, unknown>>, string][] = [
  ['roberta defaults', { ...base, model_type: 'roberta' }, { pad_token_id: 1, type_vocab_size: 2, layer_norm_eps: 1e-12 }, 'RobertaModel'],
  ['xlm-roberta', { ...base, model_type: 'xlm-roberta', type_vocab_size: 1 }, { pad_token_id: 1 }, 'XLMRobertaModel'],
  ['implied by architectures', { ...base, architectures: ['CamembertForMaskedLM'] }, { model_type: 'camembert' }, 'CamembertModel'],
  ['dpr with projection', { ...base, model_type: 'dpr', projection_dim: 4 }, { projection_dim: 4 }, 'DPRQuestionEncoder'],
  ['distilbert', { vocab_size: 10, dim: 8, n_layers: 1, n_heads: 2, hidden_dim: 16, model_type: 'distilbert', activation: 'relu' }, { hidden_size: 8, intermediate_size: 16, hidden_act: 'relu' }, 'DistilBertModel'],
  ['t5 gated', { vocab_size: 10, d_model: 8, d_kv: 3, d_ff: 16, num_layers: 1, num_heads: 2, model_type: 't5', feed_forward_proj: 'gated-gelu' }, { hidden_size: 8, hidden_act: 'gelu_new', layer_norm_eps: 1e-6 }, 'T5EncoderModel'],
];
for (const [name, raw, want, arch] of families) {
  test(`family config: ${name} parses and config.json round-trips in its own field names`, () => {
    const c = parseEncoderConfig(raw, 'cfg.json');
    for (const [k, v] of Object.entries(want)) assert.equal((c as unknown as Record<string, unknown>)[k], v, k);
    const written = JSON.parse(encoderConfigJson(c));
    assert.equal(written.model_type, c.model_type);
    // dprep saves the bare encoder, so a task model's architectures become the encoder class.
    assert.deepEqual(written.architectures, [arch]);
    if (c.model_type === 'distilbert') assert.equal(written.dim, 8);
    if (c.model_type === 't5') assert.equal(written.d_kv, 3);
    const { extra: _a, ...again } = parseEncoderConfig(written, 'again.json');
    const { extra: _b, ...first } = c;
    assert.deepEqual(again, first);
  });
}

test('DPR passage encoders are written as DPRContextEncoder', () => {
  const c = parseEncoderConfig({ ...base, model_type: 'dpr', projection_dim: 4 }, 'cfg.json');
  assert.deepEqual(JSON.parse(encoderConfigJson(c, 'passage')).architectures, ['DPRContextEncoder']);
});

const badFamilies: [string, Record<string, unknown>, RegExp][] = [
  ['unsupported model_type', { ...base, model_type: 'electra' }, /field "model_type".*"electra"/],
  ['projection without dpr', { ...base, model_type: 'roberta', projection_dim: 4 }, /field "projection_dim".*model_type "dpr"/],
  ['sinusoidal DistilBERT', { vocab_size: 10, dim: 8, n_layers: 1, n_heads: 2, hidden_dim: 16, model_type: 'distilbert', sinusoidal_pos_embds: true }, /field "sinusoidal_pos_embds"/],
  ['BERT field in a DistilBERT config', { vocab_size: 10, dim: 8, n_layers: 1, n_heads: 2, hidden_dim: 16, model_type: 'distilbert', hidden_size: 8 }, /field "hidden_size".*distilbert/],
  ['T5 feed-forward', { vocab_size: 10, d_model: 8, d_kv: 4, d_ff: 16, num_layers: 1, num_heads: 2, model_type: 't5', feed_forward_proj: 'gated-swish' }, /field "feed_forward_proj"/],
  ['T5 missing d_kv', { vocab_size: 10, d_model: 8, d_ff: 16, num_layers: 1, num_heads: 2, model_type: 't5' }, /field "d_kv".*missing/],
];
for (const [name, raw, message] of badFamilies) {
  test(`config refused: ${name}`, () => assert.throws(() => parseEncoderConfig(raw, 'cfg.json'), (e: Error) => /cfg\.json/.test(e.message) && message.test(e.message)));
}
