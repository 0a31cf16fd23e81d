/**
 * Model directories in the Hugging Face layout: `config.json`, `model.safetensors`, and
 * `vocab.txt` and/or `tokenizer.json` (+ tokenizer_config.json, special_tokens_map.json).
 * Loading accepts BertModel names, `bert.`-prefixed task checkpoints and DPR's
 * `question_encoder.bert_model.` / `ctx_encoder.bert_model.` names; saving writes BertModel names.
 *
 * Also the trainer's checkpoints (`saveCheckpoint`: both encoders, + optimizer and trainer state
 * for --resume) and the final export of a run's encoders with how they embed (`exportEncoders`).
 * Every directory is written beside its target and swapped in whole (replaceDir).
 */
import { copyFile, cp, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.ts';
import { replaceDir, writeFileAtomic } from '../io/atomic.ts';
import { bertConfigJson, readBertConfig, type BertConfig } from './config.ts';
import { readSafetensors, writeSafetensors, type NamedTensor } from './safetensors.ts';
import { bertTensorShapes, POOLER_SHAPES, type Pooling } from './bert.ts';

export const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

/** Prefixes tried in order; `role` puts DPR's matching encoder first. */
function prefixesFor(role?: 'query' | 'passage'): string[] {
  const dpr = role === 'passage' ? ['ctx_encoder.bert_model.', 'question_encoder.bert_model.'] : ['question_encoder.bert_model.', 'ctx_encoder.bert_model.'];
  return ['', 'bert.', ...dpr, 'bert_model.'];
}

/**
 * Reads config + weights of a model dir; tensors come back under BertModel names.
 * Missing or mis-shaped tensors are an InputError naming the tensor.
 * @example const { config, tensors } = await readModelDir('tiny-bert');
 */
export async function readModelDir(dir: string, role?: 'query' | 'passage'): Promise<{ config: BertConfig; tensors: Map<string, NamedTensor>; ignored: string[] }> {
  const config = await readBertConfig(join(dir, 'config.json'));
  const file = join(dir, 'model.safetensors');
  if (!existsSync(file)) {
    const hint = existsSync(join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin found: convert it to safetensors first)' : '';
    throw new InputError(dir, undefined, undefined, `no model.safetensors${hint}`);
  }
  const { tensors: raw } = await readSafetensors(file);
  const prefix = prefixesFor(role).find((p) => raw.has(p + 'embeddings.word_embeddings.weight'));
  if (prefix === undefined) throw new InputError(file, 'tensor "embeddings.word_embeddings.weight"', undefined, 'missing (also looked under bert., question_encoder.bert_model., ctx_encoder.bert_model.)');
  const expected = bertTensorShapes(config);
  for (const [k, v] of POOLER_SHAPES(config)) if (raw.has(prefix + k)) expected.set(k, v);
  const tensors = new Map<string, NamedTensor>();
  const missing: string[] = [];
  for (const [name, shape] of expected) {
    const t = raw.get(prefix + name);
    if (!t) {
      missing.push(prefix + name);
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new InputError(file, `tensor "${prefix + name}"`, 'shape', `expected [${shape}] from config.json, got [${t.shape}]`);
    }
    tensors.set(name, t);
  }
  if (missing.length) {
    throw new InputError(file, `${missing.length} tensor(s)`, undefined, `missing: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  }
  const ignored = [...raw.keys()].filter((k) => !(k.startsWith(prefix) && tensors.has(k.slice(prefix.length))));
  return { config, tensors, ignored };
}

/**
 * Writes a model dir atomically as a whole: files go to a temp dir that is renamed into place.
 * Tokenizer files are copied from `tokenizerFrom`.
 */
export async function writeModelDir(dir: string, config: BertConfig, tensors: Map<string, NamedTensor>, tokenizerFrom: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFileAtomic(join(tmp, 'config.json'), bertConfigJson(config));
  await writeSafetensors(join(tmp, 'model.safetensors'), tensors);
  let copied = 0;
  for (const name of TOKENIZER_FILES) {
    if (existsSync(join(tokenizerFrom, name))) {
      await copyFile(join(tokenizerFrom, name), join(tmp, name));
      if (name === 'vocab.txt' || name === 'tokenizer.json') copied++;
    }
  }
  if (copied === 0) throw new InputError(tokenizerFrom, undefined, undefined, 'no vocab.txt or tokenizer.json to copy into the model dir');
  await replaceDir(tmp, dir);
}

/** Written by `dprep train` into each encoder dir: how it embeds, so every reader embeds the same way. */
export const ENCODER_SETTINGS_FILE = 'dprep_encoder.json';

export interface EncoderSettings {
  pooling: Pooling;
  normalize: boolean;
  /** Passages were encoded as `[CLS] title [SEP] text [SEP]`; false: titles are ignored. */
  embed_title: boolean;
  max_length: number;
  /** Input templates (template.ts) the encoder was trained with; absent or null: DPR inputs. */
  query_template?: string | null;
  passage_template?: string | null;
}

/** One encoder of a checkpoint: its config, weights, and the model dir its tokenizer files come from. */
export interface CheckpointEncoder {
  config: BertConfig;
  tensors: Map<string, NamedTensor>;
  tokenizerFrom: string;
}

/**
 * Writes `dir/{query,passage}_encoder` (+ `optimizer.safetensors` and `trainer_state.json` when
 * `resume` is given) as a whole: a killed save leaves the previous checkpoint in place.
 * @example await saveCheckpoint('runs/s1/best', { query, passage });
 */
export async function saveCheckpoint(
  dir: string,
  encoders: { query: CheckpointEncoder; passage: CheckpointEncoder },
  resume?: { optimizer: Map<string, NamedTensor>; state: object },
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const role of ['query', 'passage'] as const) {
    const e = encoders[role];
    await writeModelDir(join(tmp, `${role}_encoder`), e.config, e.tensors, e.tokenizerFrom);
  }
  if (resume) {
    await writeSafetensors(join(tmp, 'optimizer.safetensors'), resume.optimizer);
    await writeFileAtomic(join(tmp, 'trainer_state.json'), JSON.stringify(resume.state, null, 2) + '\n');
  }
  await replaceDir(tmp, dir);
}

/**
 * Copies the encoders of checkpoint `out/<from>` to `out/query_encoder` and `out/passage_encoder`,
 * each with its `dprep_encoder.json`, swapped in whole.
 * @example await exportEncoders('runs/s1', 'best', { query: qSettings, passage: pSettings });
 */
export async function exportEncoders(out: string, from: string, settings: { query: EncoderSettings; passage: EncoderSettings }): Promise<void> {
  for (const role of ['query', 'passage'] as const) {
    const target = join(out, `${role}_encoder`);
    const tmp = join(out, `.${role}_encoder.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await cp(join(out, from, `${role}_encoder`), tmp, { recursive: true });
    await writeFileAtomic(join(tmp, ENCODER_SETTINGS_FILE), JSON.stringify(settings[role], null, 2) + '\n');
    await replaceDir(tmp, target);
  }
}
