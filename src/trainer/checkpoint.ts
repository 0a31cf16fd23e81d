/**
 * Model directories in the Hugging Face layout: `config.json`, weights, and `vocab.txt` and/or
 * `tokenizer.json` (+ tokenizer_config.json, special_tokens_map.json). Weights load from
 * `model.safetensors`, `pytorch_model.bin` or their sharded indexes (weights.ts), in any layout the
 * config's family accepts (families.ts: bare, task-model prefixes, DPR's encoder prefixes); saving
 * writes the family's own layout.
 *
 * Also the trainer's checkpoints (`saveCheckpoint`: both encoders, + optimizer and trainer state
 * for --resume) and the final export of a run's encoders with how they embed (`exportEncoders`).
 * Every directory is written beside its target and swapped in whole (replaceDir).
 */
import { copyFile, cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.ts';
import { makeDir, namingTarget, removeTemp, replaceDir, tempPathFor, writeFileAtomic } from '../io/atomic.ts';
import { encoderConfigJson, readEncoderConfig, type BertConfig, type EncoderConfig } from './config.ts';
import { writeSafetensors, type NamedTensor } from './safetensors.ts';
import type { Pooling } from './bert.ts';
import { familyOf, readFamilyTensors, toHfLayout, type Role } from './families.ts';
import { checkTensors, readWeights } from './weights.ts';
import { checkpointFiles } from './resume.ts';

export const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

/**
 * Reads config + weights of a model dir; tensors come back under the family's bare HF names.
 * Missing, unexpected (e.g. more layers than the config says), mis-shaped and non-finite tensors
 * are one InputError naming them all.
 * @example const { config, tensors } = await readModelDir('tiny-bert');
 */
export async function readModelDir(dir: string, role?: Role): Promise<{ config: BertConfig; tensors: Map<string, NamedTensor>; ignored: string[] }> {
  const config = await readEncoderConfig(join(dir, 'config.json'));
  const weights = await readWeights(dir);
  checkFamilyTensors(config, weights.tensors, weights.source, role);
  // The family's name normaliser: bare, task-model (bert./roberta./distilbert.) and DPR layouts.
  const { tensors, ignored } = readFamilyTensors(config, weights.tensors, weights.source, role);
  return { config, tensors, ignored };
}

/**
 * Checks a checkpoint's tensors in the layout it uses against the shapes its config implies.
 * "Unexpected" means a tensor under one of the encoder's own modules (`embeddings.`, `encoder.` …
 * behind the layout's prefix) that the config does not imply; other heads (MLM, T5's decoder, the
 * other DPR encoder) are not the encoder's and are left alone.
 */
function checkFamilyTensors(config: EncoderConfig, raw: Map<string, NamedTensor>, file: string, role?: Role): void {
  const family = familyOf(config);
  const layout = family.layouts(role).find((hfOf) => raw.has(hfOf(family.anchor)));
  if (!layout) return; // readFamilyTensors names the missing anchor and every name it tried
  const shapes = family.shapes(config);
  for (const [name, shape] of family.optional(config)) if (raw.has(layout(name))) shapes.set(name, shape);
  const expected = new Map<string, number[]>();
  const tied = new Set<string>();
  const modules = new Set<string>();
  for (const [name, shape] of shapes) {
    const alias = family.aliases?.[name];
    const bare = !raw.has(layout(name)) && alias !== undefined && raw.has(layout(alias)) ? alias : name;
    if (alias !== undefined) tied.add(layout(alias));
    const hf = layout(bare);
    expected.set(hf, shape);
    const module = bare.split('.')[0];
    modules.add(hf.slice(0, hf.length - bare.length + module.length) + '.');
  }
  const inScope = new Map([...raw].filter(([hf]) => expected.has(hf) || (!tied.has(hf) && [...modules].some((m) => hf.startsWith(m)))));
  // Shapes are named against config.json here; checkTensors names the rest (missing, unexpected, non-finite).
  const shapeProblems: string[] = [];
  for (const [hf, shape] of expected) {
    const t = inScope.get(hf);
    if (!t || (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]))) continue;
    shapeProblems.push(`tensor "${hf}": expected [${shape}] from config.json, got [${t.shape}]`);
    expected.delete(hf);
    inScope.delete(hf);
  }
  let problems = shapeProblems;
  try {
    // Buffers some transformers versions save as floats: not weights.
    checkTensors(inScope, expected, { file, ignore: ['position_ids', 'token_type_ids'] });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    problems = [err.problem, ...shapeProblems];
  }
  if (problems.length) throw new InputError(file, undefined, undefined, problems.join('; '));
}
/**
 * Writes a model dir atomically as a whole: files go to a temp dir that is renamed into place.
 * Tokenizer files are copied from `tokenizerFrom`.
 */
export async function writeModelDir(dir: string, config: BertConfig, tensors: Map<string, NamedTensor>, tokenizerFrom: string, role: 'query' | 'passage' = 'query'): Promise<void> {
  const tmp = tempPathFor(dir);
  try {
    await makeDir(tmp);
    await fillModelDir(tmp, config, tensors, tokenizerFrom, role);
    await replaceDir(tmp, dir);
  } catch (err) {
    await removeTemp(tmp);
    throw namingTarget(err, dir);
  }
}

async function fillModelDir(tmp: string, config: BertConfig, tensors: Map<string, NamedTensor>, tokenizerFrom: string, role: 'query' | 'passage'): Promise<void> {
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
}

/** Written by `dprep train` into each encoder dir: how it embeds, so every reader embeds the same way. */
export const ENCODER_SETTINGS_FILE = 'dprep_encoder.json';

export interface EncoderSettings {
  pooling: Pooling;
  normalize: boolean;
  /** Passages were encoded as `[CLS] title [SEP] text [SEP]`; false: titles are ignored. */
  embed_title: boolean;
  max_length: number;
  /** Which side of the bi-encoder this is: the template and DPR encoder a reader picks by default. */
  role?: Role;
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
 * Writes `dir/{query,passage}_encoder` (+ `optimizer.safetensors` and `trainer_state.json` with
 * the sha256 of every other file, when `resume` is given) as a whole: a killed save leaves the
 * previous checkpoint in place.
 * @example await saveCheckpoint('runs/s1/best', { query, passage });
 */
export async function saveCheckpoint(
  dir: string,
  encoders: { query: CheckpointEncoder; passage: CheckpointEncoder },
  resume?: { optimizer: Map<string, NamedTensor>; state: object },
): Promise<void> {
  const tmp = tempPathFor(dir);
  try {
    await makeDir(tmp);
    for (const role of ['query', 'passage'] as const) {
      const e = encoders[role];
      await writeModelDir(join(tmp, `${role}_encoder`), e.config, e.tensors, e.tokenizerFrom, role);
    }
    if (resume) {
      await writeSafetensors(join(tmp, 'optimizer.safetensors'), resume.optimizer);
      // The state records the sha256 of every other file, so --resume refuses a checkpoint damaged since.
      const files = await checkpointFiles(tmp);
      await writeFileAtomic(join(tmp, 'trainer_state.json'), JSON.stringify({ ...resume.state, files }, null, 2) + '\n');
    }
    await replaceDir(tmp, dir);
  } catch (err) {
    await removeTemp(tmp);
    throw namingTarget(err, dir);
  }
}

/**
 * Copies the encoders of checkpoint `out/<from>` to `out/query_encoder` and `out/passage_encoder`,
 * each with its `dprep_encoder.json`, swapped in whole.
 * @example await exportEncoders('runs/s1', 'best', { query: qSettings, passage: pSettings });
 */
export async function exportEncoders(out: string, from: string, settings: { query: EncoderSettings; passage: EncoderSettings }): Promise<void> {
  for (const role of ['query', 'passage'] as const) {
    const target = join(out, `${role}_encoder`);
    const tmp = tempPathFor(target);
    try {
      await cp(join(out, from, `${role}_encoder`), tmp, { recursive: true });
      await writeFileAtomic(join(tmp, ENCODER_SETTINGS_FILE), JSON.stringify(settings[role], null, 2) + '\n');
      await replaceDir(tmp, target);
    } catch (err) {
      await removeTemp(tmp);
      throw namingTarget(err, target);
    }
  }
}
