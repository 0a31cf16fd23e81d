/**
 * Hugging Face model configs (`config.json`) of the encoder families dprep trains: read, checked
 * field by field against the family's HF config class, and written back in that class's own
 * field names. Inside dprep every family's config uses BertConfig's field names (hidden_size,
 * num_hidden_layers, …) so sizes are read one way everywhere; `model_type` says which family.
 * Unknown fields are refused (a typo or another architecture must not be trained silently).
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../util/errors.ts';
import { parseDistilBertConfig, distilBertConfigFields, parseT5Config, t5ConfigFields } from './config-other.ts';

/** The HF `model_type`s dprep implements. */
export const MODEL_TYPES = ['bert', 'dpr', 'roberta', 'camembert', 'xlm-roberta', 'distilbert', 't5'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** T5-only hyper-parameters (T5Config names). */
export interface T5Fields {
  d_kv: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  /** `wi_0`/`wi_1` (gated) or one `wi`. */
  is_gated: boolean;
  /** T5Config's `feed_forward_proj`, kept to write it back. */
  feed_forward_proj: string;
}

/** An encoder's hyper-parameters under BertConfig's names; other known fields are kept verbatim in `extra`. */
export interface EncoderConfig {
  model_type: ModelType;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu' | 'gelu_new' | 'relu';
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  /** 0 for families without token types (DistilBERT, T5). */
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** DPR's `encode_proj` output size; 0: no projection. */
  projection_dim: number;
  t5?: T5Fields;
  /** Known, unused-by-us fields (architectures, transformers_version, ...), written back unchanged. */
  extra: Record<string, unknown>;
}

/** BertConfig is the encoder config: every family shares its field names. */
export type BertConfig = EncoderConfig;

export interface NumericSpec {
  integer: boolean;
  default?: number;
}

/** A non-negative (integer) number or an InputError naming the field. */
export function checkNumber(file: string, key: string, value: unknown, spec: NumericSpec): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (spec.integer && !Number.isInteger(value)) || value < 0) {
    throw new InputError(file, undefined, key, `expected a non-negative ${spec.integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Fills defaults of `specs` into `out`, refusing a missing required field. */
export function fillDefaults(file: string, out: Record<string, unknown>, specs: Record<string, NumericSpec>): void {
  for (const [key, spec] of Object.entries(specs)) {
    if (out[key] !== undefined) continue;
    if (spec.default === undefined) throw new InputError(file, undefined, key, 'missing required field');
    out[key] = spec.default;
  }
}

/** BertConfig numeric fields; RoBERTa-family configs differ only in their defaults (`pad_token_id` 1). */
const bertNumeric = (pad: number): Record<string, NumericSpec> => ({
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
  pad_token_id: { integer: true, default: pad },
});

/** PretrainedConfig / BertConfig / RobertaConfig / DPRConfig fields that do not change the encoder's computation. */
export const PASSTHROUGH = new Set([
  'architectures', 'torch_dtype', 'transformers_version', 'use_cache', 'classifier_dropout',
  'bos_token_id', 'eos_token_id', 'sep_token_id', 'id2label', 'label2id', 'problem_type', 'finetuning_task',
  'gradient_checkpointing', 'output_past', '_name_or_path', 'name_or_path', 'return_dict', 'output_attentions',
  'output_hidden_states', 'torchscript', 'is_decoder', 'add_cross_attention', 'tie_word_embeddings',
  'directionality', 'pooler_fc_size', 'pooler_num_attention_heads', 'pooler_num_fc_layers', 'pooler_size_per_head',
  'pooler_type', 'chunk_size_feed_forward', 'prefix', 'task_specific_params', 'tokenizer_class',
  'position_embedding_type', 'num_labels', 'eos_token_ids', 'pruned_heads', 'decoder_start_token_id',
]);

const BERT_LIKE = new Set<ModelType>(['bert', 'dpr', 'roberta', 'camembert', 'xlm-roberta']);

function parseBertLike(obj: Record<string, unknown>, file: string, modelType: ModelType): EncoderConfig {
  const numeric = bertNumeric(modelType === 'bert' || modelType === 'dpr' ? 0 : 1);
  const out: Record<string, unknown> = { model_type: modelType, projection_dim: 0, extra: {} };
  const extra = out.extra as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'model_type') continue;
    if (key in numeric) out[key] = checkNumber(file, key, value, numeric[key]);
    else if (key === 'hidden_act') {
      if (value !== 'gelu' && value !== 'gelu_new' && value !== 'relu') {
        throw new InputError(file, undefined, key, `expected "gelu", "gelu_new" or "relu", got ${JSON.stringify(value)}`);
      }
      out[key] = value;
    } else if (key === 'projection_dim') {
      // Only DPRConfig has a projection layer; BertConfig checkpoints carry the field as a leftover.
      if (value !== 0 && value !== null && modelType !== 'dpr') {
        throw new InputError(file, undefined, key, `a DPR projection layer (projection_dim ${JSON.stringify(value)}) needs model_type "dpr"; expected 0`);
      }
      out[key] = value === null ? 0 : checkNumber(file, key, value, { integer: true });
    } else if (PASSTHROUGH.has(key)) {
      if (key === 'position_embedding_type' && value !== 'absolute') {
        throw new InputError(file, undefined, key, `only "absolute" position embeddings are supported, got ${JSON.stringify(value)}`);
      }
      extra[key] = value;
    } else {
      throw new InputError(file, undefined, key, `unknown config field (not a ${modelType} config field dprep knows)`);
    }
  }
  out.hidden_act ??= 'gelu';
  fillDefaults(file, out, numeric);
  return out as unknown as EncoderConfig;
}

/** A config without `model_type`, as old BERT/RoBERTa checkpoints ship: BERT unless its architectures say RoBERTa. */
function impliedModelType(obj: Record<string, unknown>): ModelType {
  const arch = Array.isArray(obj.architectures) ? String(obj.architectures[0] ?? '') : '';
  if (arch.startsWith('XLMRoberta')) return 'xlm-roberta';
  if (arch.startsWith('Camembert')) return 'camembert';
  if (arch.startsWith('Roberta')) return 'roberta';
  return 'bert';
}

/**
 * Checks a parsed config.json object of any supported family; `file` names it in errors.
 * @example parseEncoderConfig(JSON.parse(text), 'camembert/config.json').model_type // 'camembert'
 */
export function parseEncoderConfig(raw: unknown, file: string): EncoderConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(file, undefined, undefined, 'expected a JSON object');
  const obj = raw as Record<string, unknown>;
  const type = obj.model_type ?? impliedModelType(obj);
  if (!(MODEL_TYPES as readonly unknown[]).includes(type)) {
    throw new InputError(file, undefined, 'model_type', `expected one of ${MODEL_TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}`);
  }
  const modelType = type as ModelType;
  const config = BERT_LIKE.has(modelType) ? parseBertLike(obj, file, modelType) : modelType === 'distilbert' ? parseDistilBertConfig(obj, file) : parseT5Config(obj, file);
  const inner = config.t5 ? config.t5.d_kv * config.num_attention_heads : config.hidden_size;
  if (config.num_attention_heads === 0 || (!config.t5 && config.hidden_size % config.num_attention_heads !== 0)) {
    throw new InputError(file, undefined, 'num_attention_heads', `hidden_size ${config.hidden_size} is not a multiple of ${config.num_attention_heads} heads`);
  }
  if (inner === 0) throw new InputError(file, undefined, 'd_kv', 'attention size is 0');
  return config;
}

/** The BERT name of the parser: every family is accepted (the model_type decides). */
export const parseBertConfig = parseEncoderConfig;

/** Reads and checks `config.json`. */
export async function readEncoderConfig(file: string): Promise<EncoderConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, undefined, undefined, `cannot read config: ${(err as Error).message}`);
  }
  return parseEncoderConfig(raw, file);
}

export const readBertConfig = readEncoderConfig;

/** HF model class written into `architectures` (the bare encoder, as dprep saves it). */
const ARCHITECTURE: Record<ModelType, string> = {
  bert: 'BertModel', dpr: 'BertModel', roberta: 'RobertaModel', camembert: 'CamembertModel', 'xlm-roberta': 'XLMRobertaModel',
  distilbert: 'DistilBertModel', t5: 'T5EncoderModel',
};

/**
 * The config.json text dprep writes, in the family's own HF field names. A DPR config with a
 * projection is written as DPRConfig (`role` picks DPRQuestionEncoder / DPRContextEncoder); without
 * one, as BertModel (what dprep has always written for DPR checkpoints).
 */
export function encoderConfigJson(config: EncoderConfig, role: 'query' | 'passage' = 'query'): string {
  const { extra, t5, model_type, projection_dim, ...fields } = config;
  let own: Record<string, unknown>;
  if (model_type === 'distilbert') own = distilBertConfigFields(config);
  else if (model_type === 't5') own = t5ConfigFields(config, t5!);
  else {
    own = { ...fields, position_embedding_type: 'absolute' };
    if (model_type === 'dpr' && projection_dim > 0) own.projection_dim = projection_dim;
  }
  const dprOut = model_type === 'dpr' && projection_dim > 0;
  const obj: Record<string, unknown> = {
    ...extra,
    architectures: [dprOut ? (role === 'passage' ? 'DPRContextEncoder' : 'DPRQuestionEncoder') : ARCHITECTURE[model_type]],
    model_type: model_type === 'dpr' && !dprOut ? 'bert' : model_type,
    torch_dtype: 'float32',
    ...own,
  };
  const sorted = Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
  return JSON.stringify(sorted, null, 2) + '\n';
}

/** The BERT name of the writer (dispatches on model_type like the rest). */
export const bertConfigJson = (config: EncoderConfig) => encoderConfigJson(config);
