/**
 * The encoder families, one entry per HF `model_type`: which tensors a config implies (names and
 * `[out, in]` shapes), under which prefixes HF checkpoints store them, the model class computing
 * the forward pass, HF's random init, and the names written back. Everything else (training,
 * GradCache, replicas, checkpoints) goes through `EncoderModel` and these functions.
 *
 * Family          | tensors (bare names)                     | differs from BERT in
 * bert            | embeddings.*, encoder.layer.N.*          | — (E5, BGE, GTE are plain BERT)
 * dpr             | BERT's + encode_proj.*                   | projection of the pooled vector
 * roberta, camembert, xlm-roberta | BERT's                   | position ids, one token type
 * distilbert      | embeddings.*, transformer.layer.N.*      | names, no token types, dropout sites
 * t5              | shared, encoder.block.N.*                | pre-norm RMSNorm, relative bias, no biases
 */
import type { TF } from './backend.ts';
import type { EncoderConfig, ModelType } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import { InputError } from '../util/errors.ts';
import type { EncoderModel } from './model-base.ts';
import { BertModel, bertTensorShapes, initBertTensors, POOLER_SHAPES } from './bert.ts';
import { initRobertaTensors, RobertaModel } from './roberta.ts';
import { DprModel, dprHfName, dprTensorShapes, initDprTensors } from './dpr.ts';
import { DistilBertModel, distilBertTensorShapes, initDistilBertTensors } from './distilbert.ts';
import { initT5Tensors, T5EncoderModel, t5TensorShapes } from './t5.ts';

export type Role = 'query' | 'passage';

/** One family: everything that differs between model_types, in one place. */
export interface Family {
  /** Required tensors, bare HF names → `[out, in]` shapes. */
  shapes(c: EncoderConfig): Map<string, number[]>;
  /** Tensors loaded when the checkpoint has them (BERT's unused pooler). */
  optional(c: EncoderConfig): Map<string, number[]>;
  /** HF-name candidates of a bare name, tried in order per checkpoint (task-model and DPR prefixes). */
  layouts(role?: Role): ((name: string) => string)[];
  /** A tensor every checkpoint of the family has: finds the layout. */
  anchor: string;
  /** HF names that hold the same tensor as a bare name (T5's tied embeddings). */
  aliases?: Record<string, string>;
  create(tf: TF, c: EncoderConfig, tensors: Map<string, NamedTensor>, name: string): EncoderModel;
  init(c: EncoderConfig, seed: number, withPooler: boolean): Map<string, NamedTensor>;
  /** The HF name a bare name is saved under (the family's own layout). */
  hfName(c: EncoderConfig, name: string, role: Role): string;
}

const prefixed = (prefixes: string[]) => prefixes.map((p) => (n: string) => p + n);
const bare = (_c: EncoderConfig, name: string) => name;
const noOptional = () => new Map<string, number[]>();

/** BERT checkpoints: BertModel names, `bert.` task models, DPR's encoders (role first), `bert_model.`. */
const bertLayouts = (role?: Role) =>
  prefixed(['', 'bert.', ...(role === 'passage' ? ['ctx_encoder.bert_model.', 'question_encoder.bert_model.'] : ['question_encoder.bert_model.', 'ctx_encoder.bert_model.']), 'bert_model.']);

const BERT: Family = {
  shapes: bertTensorShapes,
  optional: POOLER_SHAPES,
  layouts: bertLayouts,
  anchor: 'embeddings.word_embeddings.weight',
  create: (tf, c, t, name) => new BertModel(tf, c, t, name),
  init: (c, seed, withPooler) => initBertTensors(c, seed, withPooler),
  hfName: bare,
};

const DPR: Family = {
  ...BERT,
  shapes: dprTensorShapes,
  // DPR's own layout first (encode_proj sits beside bert_model, not in it), then BERT's.
  layouts: (role) => [
    ...(role === 'passage' ? (['passage', 'query'] as const) : (['query', 'passage'] as const)).map((r) => (n: string) => dprHfName(n, r)),
    ...bertLayouts(role),
  ],
  create: (tf, c, t, name) => new DprModel(tf, c, t, name),
  init: (c, seed, withPooler) => (c.projection_dim > 0 ? initDprTensors(c, seed) : initBertTensors(c, seed, withPooler)),
  hfName: (c, name, role) => (c.projection_dim > 0 ? dprHfName(name, role) : name),
};

const ROBERTA: Family = {
  ...BERT,
  // Camembert* and XLMRoberta* task models subclass RoBERTa's: their prefix is `roberta.` too.
  layouts: () => prefixed(['', 'roberta.']),
  create: (tf, c, t, name) => new RobertaModel(tf, c, t, name),
  init: (c, seed, withPooler) => initRobertaTensors(c, seed, withPooler),
};

const DISTILBERT: Family = {
  shapes: distilBertTensorShapes,
  optional: noOptional,
  layouts: () => prefixed(['', 'distilbert.']),
  anchor: 'embeddings.word_embeddings.weight',
  create: (tf, c, t, name) => new DistilBertModel(tf, c, t, name),
  init: (c, seed) => initDistilBertTensors(c, seed),
  hfName: bare,
};

const T5: Family = {
  shapes: t5TensorShapes,
  optional: noOptional,
  // T5EncoderModel and T5ForConditionalGeneration share these names (the decoder is ignored).
  layouts: () => prefixed(['']),
  anchor: 'encoder.final_layer_norm.weight',
  aliases: { 'shared.weight': 'encoder.embed_tokens.weight' },
  create: (tf, c, t, name) => new T5EncoderModel(tf, c, t, name),
  init: (c, seed) => initT5Tensors(c, seed),
  hfName: bare,
};

export const FAMILIES: Record<ModelType, Family> = {
  bert: BERT, dpr: DPR, roberta: ROBERTA, camembert: ROBERTA, 'xlm-roberta': ROBERTA, distilbert: DISTILBERT, t5: T5,
};

export const familyOf = (c: EncoderConfig): Family => FAMILIES[c.model_type];

/** Required tensor shapes of a config (what parameter counts and memory estimates need). */
export const tensorShapes = (c: EncoderConfig) => familyOf(c).shapes(c);

/**
 * The longest input (specials included) a config's model takes: RoBERTa-family positions start at
 * pad_token_id + 1, so roberta-base's 514 positions hold 512 tokens, as HF's tokenizers cap them.
 */
export function maxSequenceLength(c: EncoderConfig): number {
  return robertaPositions(c) ? c.max_position_embeddings - c.pad_token_id - 1 : c.max_position_embeddings;
}

/** Whether a config's positions count from pad_token_id + 1 (RoBERTa, CamemBERT, XLM-R), not from 0. */
export const robertaPositions = (c: EncoderConfig): boolean => FAMILIES[c.model_type] === ROBERTA;

/** The model of a config's family over HF-named tensors. */
export function createEncoderModel(tf: TF, config: EncoderConfig, tensors: Map<string, NamedTensor>, name: string = config.model_type): EncoderModel {
  return familyOf(config).create(tf, config, tensors, name);
}

/** HF's random init of a config's family, seeded (same seed, same bytes). */
export function initEncoderTensors(config: EncoderConfig, seed: number, withPooler = true): Map<string, NamedTensor> {
  return familyOf(config).init(config, seed, withPooler);
}

/**
 * The name normaliser: a checkpoint's tensors (any accepted layout) under the family's bare names,
 * checked against the config. Missing or mis-shaped tensors are an InputError naming them; tensors
 * of other heads or the other DPR encoder come back in `ignored`.
 * @example const { tensors } = readFamilyTensors(config, (await readSafetensors(f)).tensors, f, 'query');
 */
export function readFamilyTensors(config: EncoderConfig, raw: Map<string, NamedTensor>, file: string, role?: Role): { tensors: Map<string, NamedTensor>; ignored: string[] } {
  const family = familyOf(config);
  const layouts = family.layouts(role);
  const layout = layouts.find((hfOf) => raw.has(hfOf(family.anchor)));
  if (!layout) {
    const tried = [...new Set(layouts.map((hfOf) => hfOf(family.anchor)))].filter((n) => n !== family.anchor);
    throw new InputError(file, `tensor "${family.anchor}"`, undefined, `missing (model_type ${config.model_type}; also looked for ${tried.join(', ') || 'no other name'})`);
  }
  const expected = family.shapes(config);
  for (const [k, v] of family.optional(config)) if (raw.has(layout(k))) expected.set(k, v);
  const tensors = new Map<string, NamedTensor>();
  const used = new Set<string>();
  const missing: string[] = [];
  for (const [name, shape] of expected) {
    let hf = layout(name);
    if (!raw.has(hf) && family.aliases?.[name] && raw.has(layout(family.aliases[name]))) hf = layout(family.aliases[name]);
    const t = raw.get(hf);
    if (!t) {
      missing.push(hf);
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new InputError(file, `tensor "${hf}"`, 'shape', `expected [${shape}] from config.json, got [${t.shape}]`);
    }
    tensors.set(name, t);
    used.add(hf);
  }
  if (missing.length) {
    throw new InputError(file, `${missing.length} tensor(s)`, undefined, `missing: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  }
  // A tied alias (T5's encoder.embed_tokens beside shared) is the same tensor, not an ignored one.
  for (const [name, alias] of Object.entries(family.aliases ?? {})) if (tensors.has(name)) used.add(layout(alias));
  return { tensors, ignored: [...raw.keys()].filter((k) => !used.has(k)) };
}

/** Bare-named tensors under the names the family's HF class saves them (DPR's encoder prefixes). */
export function toHfLayout(config: EncoderConfig, tensors: Map<string, NamedTensor>, role: Role = 'query'): Map<string, NamedTensor> {
  const family = familyOf(config);
  return new Map([...tensors].map(([k, v]) => [family.hfName(config, k, role), v]));
}
