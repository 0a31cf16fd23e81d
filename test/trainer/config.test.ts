import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, SHARED_DATA } from '../_paths.ts';
import { bertConfigJson, parseBertConfig, readBertConfig } from '../../src/trainer/config.ts';

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
