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
import { encoderConfigJson, readBertConfig, type BertConfig } from './config.ts';
import { readSafetensors, writeSafetensors, type NamedTensor } from './safetensors.ts';
import type { Pooling } from './bert.ts';
import { readFamilyTensors, toHfLayout } from './families.ts';

export const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

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
  // The family's name normaliser: bare, task-model (bert./roberta./distilbert.) and DPR layouts.
  const { tensors, ignored } = readFamilyTensors(config, raw, file, role);
  return { config, tensors, ignored };
}

/**
 * Writes a model dir atomically as a whole: files go to a temp dir that is renamed into place.
 * Tokenizer files are copied from `tokenizerFrom`.
 */
export async function writeModelDir(dir: string, config: BertConfig, tensors: Map<string, NamedTensor>, tokenizerFrom: string, role: 'query' | 'passage' = 'query'): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  // The family's own HF layout (DPR with a projection: DPRQuestionEncoder / DPRContextEncoder names).
  await writeFileAtomic(join(tmp, 'config.json'), encoderConfigJson(config, role));
  await writeSafetensors(join(tmp, 'model.safetensors'), toHfLayout(config, tensors, role));
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
    await writeModelDir(join(tmp, `${role}_encoder`), e.config, e.tensors, e.tokenizerFrom, role);
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
