/**
 * DistilBertConfig and T5Config: parsed into dprep's BERT-named EncoderConfig and written back in
 * their own names (`dim`/`n_layers`/…, `d_model`/`num_layers`/…).
 */
import { InputError } from '../util/errors.ts';
import { checkNumber, fillDefaults, PASSTHROUGH, type EncoderConfig, type NumericSpec, type T5Fields } from './config.ts';

/** DistilBertConfig field → dprep's name, with HF's default. */
const DISTILBERT: Record<string, [string, NumericSpec]> = {
  vocab_size: ['vocab_size', { integer: true }],
  dim: ['hidden_size', { integer: true }],
  n_layers: ['num_hidden_layers', { integer: true }],
  n_heads: ['num_attention_heads', { integer: true }],
  hidden_dim: ['intermediate_size', { integer: true }],
  dropout: ['hidden_dropout_prob', { integer: false, default: 0.1 }],
  attention_dropout: ['attention_probs_dropout_prob', { integer: false, default: 0.1 }],
  max_position_embeddings: ['max_position_embeddings', { integer: true, default: 512 }],
  initializer_range: ['initializer_range', { integer: false, default: 0.02 }],
  pad_token_id: ['pad_token_id', { integer: true, default: 0 }],
};
/** Task-head fields of DistilBertConfig: no effect on the encoder, kept. */
const DISTILBERT_KEPT = new Set(['qa_dropout', 'seq_classif_dropout', 'tie_weights_']);

export function parseDistilBertConfig(obj: Record<string, unknown>, file: string): EncoderConfig {
  // DistilBERT has no token types; its LayerNorms are nn.LayerNorm(eps=1e-12), not configurable.
  const out: Record<string, unknown> = { model_type: 'distilbert', projection_dim: 0, type_vocab_size: 0, layer_norm_eps: 1e-12, hidden_act: 'gelu', extra: {} };
  const extra = out.extra as Record<string, unknown>;
  const specs: Record<string, NumericSpec> = {};
  for (const [, [name, spec]] of Object.entries(DISTILBERT)) specs[name] = spec;
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'model_type') continue;
    if (key in DISTILBERT) out[DISTILBERT[key][0]] = checkNumber(file, key, value, DISTILBERT[key][1]);
    else if (key === 'activation') {
      if (value !== 'gelu' && value !== 'relu') throw new InputError(file, undefined, key, `expected "gelu" or "relu", got ${JSON.stringify(value)}`);
      out.hidden_act = value;
    } else if (key === 'sinusoidal_pos_embds') {
      // The sinusoidal table is a fixed init of the same tensor; dprep does not generate it.
      if (value !== false) throw new InputError(file, undefined, key, `sinusoidal position embeddings are not supported, got ${JSON.stringify(value)}; expected false`);
    } else if (DISTILBERT_KEPT.has(key) || PASSTHROUGH.has(key)) extra[key] = value;
    else throw new InputError(file, undefined, key, 'unknown config field (not a distilbert config field dprep knows)');
  }
  fillDefaults(file, out, specs);
  return out as unknown as EncoderConfig;
}

export function distilBertConfigFields(c: EncoderConfig): Record<string, unknown> {
  const own: Record<string, unknown> = { activation: c.hidden_act, sinusoidal_pos_embds: false };
  for (const [key, [name]] of Object.entries(DISTILBERT)) own[key] = (c as unknown as Record<string, unknown>)[name];
  return own;
}

/** T5Config field → dprep's name (or a T5-only field), with HF's default. */
const T5: Record<string, [string, NumericSpec]> = {
  vocab_size: ['vocab_size', { integer: true }],
  d_model: ['hidden_size', { integer: true }],
  num_layers: ['num_hidden_layers', { integer: true }],
  num_heads: ['num_attention_heads', { integer: true }],
  d_ff: ['intermediate_size', { integer: true }],
  d_kv: ['d_kv', { integer: true }],
  relative_attention_num_buckets: ['relative_attention_num_buckets', { integer: true, default: 32 }],
  relative_attention_max_distance: ['relative_attention_max_distance', { integer: true, default: 128 }],
  dropout_rate: ['hidden_dropout_prob', { integer: false, default: 0.1 }],
  layer_norm_epsilon: ['layer_norm_eps', { integer: false, default: 1e-6 }],
  initializer_factor: ['initializer_range', { integer: false, default: 1 }],
  pad_token_id: ['pad_token_id', { integer: true, default: 0 }],
  // T5 has no position table; n_positions (old configs) only bounds the input length dprep uses.
  n_positions: ['max_position_embeddings', { integer: true, default: 512 }],
};
const T5_KEPT = new Set(['num_decoder_layers', 'is_encoder_decoder', 'dense_act_fn', 'is_gated_act', 'relative_attention_num_buckets_decoder']);

/** `feed_forward_proj` → activation, gated (T5Config: "gated-gelu" means gelu_new). */
function t5Ffn(file: string, proj: unknown): { act: EncoderConfig['hidden_act']; gated: boolean } {
  const table: Record<string, { act: EncoderConfig['hidden_act']; gated: boolean }> = {
    relu: { act: 'relu', gated: false }, gelu: { act: 'gelu', gated: false },
    'gated-gelu': { act: 'gelu_new', gated: true }, 'gated-relu': { act: 'relu', gated: true }, 'gated-gelu_new': { act: 'gelu_new', gated: true },
  };
  const ffn = typeof proj === 'string' ? table[proj] : undefined;
  if (!ffn) throw new InputError(file, undefined, 'feed_forward_proj', `expected one of ${Object.keys(table).map((k) => `"${k}"`).join(', ')}, got ${JSON.stringify(proj)}`);
  return ffn;
}

export function parseT5Config(obj: Record<string, unknown>, file: string): EncoderConfig {
  const out: Record<string, unknown> = { model_type: 't5', projection_dim: 0, type_vocab_size: 0, extra: {} };
  const extra = out.extra as Record<string, unknown>;
  const specs: Record<string, NumericSpec> = {};
  for (const [, [name, spec]] of Object.entries(T5)) specs[name] = spec;
  let proj: unknown = 'relu';
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'model_type') continue;
    if (key in T5) out[T5[key][0]] = checkNumber(file, key, value, T5[key][1]);
    else if (key === 'feed_forward_proj') proj = value;
    else if (T5_KEPT.has(key) || PASSTHROUGH.has(key)) extra[key] = value;
    else throw new InputError(file, undefined, key, 'unknown config field (not a t5 config field dprep knows)');
  }
  fillDefaults(file, out, specs);
  const ffn = t5Ffn(file, proj);
  out.hidden_act = ffn.act;
  out.attention_probs_dropout_prob = out.hidden_dropout_prob;
  const t5: T5Fields = {
    d_kv: out.d_kv as number,
    relative_attention_num_buckets: out.relative_attention_num_buckets as number,
    relative_attention_max_distance: out.relative_attention_max_distance as number,
    is_gated: ffn.gated,
    feed_forward_proj: proj as string,
  };
  for (const k of ['d_kv', 'relative_attention_num_buckets', 'relative_attention_max_distance']) delete out[k];
  out.t5 = t5;
  return out as unknown as EncoderConfig;
}

export function t5ConfigFields(c: EncoderConfig, t5: T5Fields): Record<string, unknown> {
  const flat = { ...c, ...t5 } as unknown as Record<string, unknown>;
  const own: Record<string, unknown> = { feed_forward_proj: t5.feed_forward_proj };
  for (const [key, [name]] of Object.entries(T5)) own[key] = flat[name];
  return own;
}
