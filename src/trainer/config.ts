/**
 * Hugging Face BertConfig (`config.json`): read, checked field by field, and written back.
 * Unknown fields are refused (a typo or another architecture must not be trained silently as BERT).
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../util/errors.ts';

/** The BERT hyper-parameters dprep uses; other known fields are kept verbatim in `extra`. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu' | 'gelu_new' | 'relu';
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** Known, unused-by-us fields (architectures, transformers_version, ...), written back unchanged. */
  extra: Record<string, unknown>;
}

const NUMERIC: Record<string, { integer: boolean; default?: number }> = {
  vocab_size: { integer: true },
  hidden_size: { integer: true },
  num_hidden_layers: { integer: true },
  num_attention_heads: { integer: true },
  intermediate_size: { integer: true },
  hidden_dropout_prob: { integer: false, default: 0.1 },
  attention_probs_dropout_prob: { integer: false, default: 0.1 },
  max_position_embeddings: { integer: true, default: 512 },
  type_vocab_size: { integer: true, default: 2 },
  initializer_range: { integer: false, default: 0.02 },
  layer_norm_eps: { integer: false, default: 1e-12 },
  pad_token_id: { integer: true, default: 0 },
};

/** PretrainedConfig / BertConfig / DPRConfig fields that do not change the encoder's computation. */
const PASSTHROUGH = new Set([
  'architectures', 'model_type', 'torch_dtype', 'transformers_version', 'use_cache', 'classifier_dropout',
  'bos_token_id', 'eos_token_id', 'sep_token_id', 'id2label', 'label2id', 'problem_type', 'finetuning_task',
  'gradient_checkpointing', 'output_past', '_name_or_path', 'name_or_path', 'return_dict', 'output_attentions',
  'output_hidden_states', 'torchscript', 'is_decoder', 'add_cross_attention', 'tie_word_embeddings',
  'directionality', 'pooler_fc_size', 'pooler_num_attention_heads', 'pooler_num_fc_layers', 'pooler_size_per_head',
  'pooler_type', 'chunk_size_feed_forward', 'prefix', 'task_specific_params', 'tokenizer_class', 'projection_dim',
  'position_embedding_type',
]);

/**
 * Checks a parsed config.json object; `file` names it in errors.
 * @example parseBertConfig(JSON.parse(text), 'tiny-bert/config.json').hidden_size // 128
 */
export function parseBertConfig(raw: unknown, file: string): BertConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(file, undefined, undefined, 'expected a JSON object');
  const obj = raw as Record<string, unknown>;
  const out: Record<string, unknown> = { extra: {} };
  const extra = out.extra as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (key in NUMERIC) {
      const spec = NUMERIC[key];
      if (typeof value !== 'number' || !Number.isFinite(value) || (spec.integer && !Number.isInteger(value)) || value < 0) {
        throw new InputError(file, undefined, key, `expected a non-negative ${spec.integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
      }
      out[key] = value;
    } else if (key === 'hidden_act') {
      if (value !== 'gelu' && value !== 'gelu_new' && value !== 'relu') {
        throw new InputError(file, undefined, key, `expected "gelu", "gelu_new" or "relu", got ${JSON.stringify(value)}`);
      }
      out[key] = value;
    } else if (PASSTHROUGH.has(key)) {
      if (key === 'position_embedding_type' && value !== 'absolute') {
        throw new InputError(file, undefined, key, `only "absolute" position embeddings are supported, got ${JSON.stringify(value)}`);
      }
      if (key === 'model_type' && value !== 'bert' && value !== 'dpr') {
        throw new InputError(file, undefined, key, `expected "bert" or "dpr", got ${JSON.stringify(value)}`);
      }
      if (key === 'projection_dim' && value !== 0 && value !== null) {
        throw new InputError(file, undefined, key, `a DPR projection layer (projection_dim ${JSON.stringify(value)}) is not supported; expected 0`);
      }
      extra[key] = value;
    } else {
      throw new InputError(file, undefined, key, 'unknown config field (not a BertConfig field dprep knows)');
    }
  }
  out.hidden_act ??= 'gelu';
  for (const [key, spec] of Object.entries(NUMERIC)) {
    if (out[key] !== undefined) continue;
    if (spec.default === undefined) throw new InputError(file, undefined, key, 'missing required field');
    out[key] = spec.default;
  }
  const config = out as unknown as BertConfig;
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw new InputError(file, undefined, 'num_attention_heads', `hidden_size ${config.hidden_size} is not a multiple of ${config.num_attention_heads} heads`);
  }
  return config;
}

/** Reads and checks `config.json`. */
export async function readBertConfig(file: string): Promise<BertConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, undefined, undefined, `cannot read config: ${(err as Error).message}`);
  }
  return parseBertConfig(raw, file);
}

/** The config.json text dprep writes: HF BertModel, every field transformers needs. */
export function bertConfigJson(config: BertConfig): string {
  const { extra, ...fields } = config;
  const obj: Record<string, unknown> = {
    ...extra,
    architectures: ['BertModel'],
    model_type: 'bert',
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    ...fields,
  };
  delete obj.projection_dim;
  const sorted = Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
  return JSON.stringify(sorted, null, 2) + '\n';
}
