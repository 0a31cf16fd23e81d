/**
 * `dprep export`: a trained run's encoders (or one encoder dir) written in the layout another
 * library loads without dprep.
 *
 * Format                | per encoder                                    | loaded by
 * hf                    | the family's own HF dir (config.json with its  | `AutoModel.from_pretrained`
 *                       | model_type/architectures, model.safetensors,   | (DPR with a projection:
 *                       | tokenizer files, dprep_encoder.json)           | DPRQuestion/ContextEncoder)
 * dpr                   | `question_encoder/` (`question_encoder.bert_model.*`, DPRConfig,
 *                       | DPRQuestionEncoder), `ctx_encoder/` (`ctx_encoder.bert_model.*`,
 *                       | DPRContextEncoder); `encode_proj.*` beside bert_model when projected | Haystack, transformers' DPR classes
 * sentence-transformers | the hf dir as module 0 at the root, 1_Pooling, | `SentenceTransformer(dir)`
 *                       | 2_Normalize when normalized, prompts           |
 *
 * Output: one selected role → OUT is that encoder's dir; both → one sub-dir per role. OUT is built
 * in a temp dir beside it and swapped in whole (replaceDir), and never overlaps the input.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { namingTarget, removeTemp, replaceDir, tempPathFor } from '../io/atomic.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { encoderConfigJson, type EncoderConfig } from './config.ts';
import { ENCODER_SETTINGS_FILE, readModelDir, TOKENIZER_FILES, writeModelDir, type EncoderSettings } from './checkpoint.ts';
import { readEncoderSettings } from './encoder.ts';
import { maxSequenceLength, type Role } from './families.ts';
import { dprHfName } from './dpr.ts';
import { writeSafetensors, type NamedTensor } from './safetensors.ts';
import { isSentenceTransformersDir, readSentenceTransformersDir, writeSentenceTransformersFiles } from './st-dir.ts';
import { parseTemplate, prefixTemplate } from './template.ts';

export const EXPORT_FORMATS = ['hf', 'dpr', 'sentence-transformers'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_ROLES = ['query', 'passage', 'both'] as const;
export type ExportRole = (typeof EXPORT_ROLES)[number];

/** Sub-dir per role when both are exported: DPR's own names for the dpr format. */
export const EXPORT_SUBDIRS: Record<ExportFormat, Record<Role, string>> = {
  hf: { query: 'query_encoder', passage: 'passage_encoder' },
  dpr: { query: 'question_encoder', passage: 'ctx_encoder' },
  'sentence-transformers': { query: 'query_encoder', passage: 'passage_encoder' },
};

/** One encoder written: its role, the dir under OUT ('' = OUT itself), and what a user should know. */
export interface ExportedEncoder {
  role: Role;
  dir: string;
  modelType: string;
  architectures: string[];
  notes: string[];
}

/** The encoder dir of `role` in a run dir (`<role>_encoder/`), else the dir itself (a shared encoder or a DPR checkpoint of both). */
export function encoderSource(model: string, role: Role): string {
  const sub = join(model, `${role}_encoder`);
  return existsSync(join(sub, 'config.json')) ? sub : model;
}

function refuseOverlap(model: string, out: string): void {
  const m = resolve(model);
  const o = resolve(out);
  const inside = (child: string, parent: string) => {
    const r = relative(parent, child);
    return r === '' || (!r.startsWith('..') && !isAbsolute(r));
  };
  if (inside(o, m)) throw new UsageError(`--out ${out} is inside (or equal to) --model ${model}; export to a directory outside the model`);
  if (inside(m, o)) throw new UsageError(`--model ${model} is inside --out ${out}; the export replaces --out whole, which would delete the model`);
}

/**
 * How an encoder embeds: its dprep_encoder.json, else what a sentence-transformers dir says
 * (pooling, normalization, prompts as prefix templates), else DPR's defaults.
 */
async function embeddingSettings(src: string, role: Role, config: EncoderConfig): Promise<EncoderSettings> {
  const trained = readEncoderSettings(src);
  const stored = existsSync(join(src, ENCODER_SETTINGS_FILE));
  const base: EncoderSettings = { pooling: 'cls', normalize: false, embed_title: true, max_length: Math.min(256, maxSequenceLength(config)) };
  if (!stored && isSentenceTransformersDir(src)) {
    const st = await readSentenceTransformersDir(src);
    const prefix = role === 'query' ? st.queryPrefix : st.passagePrefix;
    Object.assign(base, { pooling: st.pooling, normalize: st.normalize, embed_title: false, ...(st.maxLength ? { max_length: st.maxLength } : {}) });
    if (prefix) base[`${role}_template`] = prefixTemplate(prefix);
  }
  return { ...base, ...trained };
}

/**
 * The prompt sentence-transformers prepends for a template, or an error: ST prepends a fixed
 * prompt to one string, so only `PREFIX{text}` is expressible.
 */
export function stPromptOf(template: string | null | undefined, field: string): string {
  if (template === undefined || template === null) return '';
  const t = parseTemplate(template, field);
  const [first, second] = t.parts;
  const isText = (p: (typeof t.parts)[number] | undefined) => p !== undefined && 'field' in p && p.field === 'text';
  if (t.parts.length === 1 && isText(first)) return '';
  if (t.parts.length === 2 && 'literal' in first && isText(second)) return first.literal;
  throw new UsageError(
    `${field} ${JSON.stringify(template)} cannot be a sentence-transformers prompt: ST prepends a fixed prompt to the text, ` +
      `so only "PREFIX{text}" is expressible (no {title}, nothing after {text}); export --format hf instead`,
  );
}

/** config.json of a DPR encoder: DPRConfig (model_type "dpr") with the role's DPR class, projection_dim 0 when none. */
export function dprConfigJson(config: EncoderConfig, role: Role): string {
  const fields = JSON.parse(encoderConfigJson({ ...config, model_type: 'dpr' }, role)) as Record<string, unknown>;
  const obj: Record<string, unknown> = {
    ...fields,
    model_type: 'dpr',
    architectures: [role === 'passage' ? 'DPRContextEncoder' : 'DPRQuestionEncoder'],
    projection_dim: config.projection_dim,
  };
  return JSON.stringify(Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]])), null, 2) + '\n';
}

/** Bare-named tensors under DPR's encoder names (`question_encoder.bert_model.*`, `…encode_proj.*`). */
export const toDprLayout = (tensors: Map<string, NamedTensor>, role: Role) => new Map([...tensors].map(([k, v]) => [dprHfName(k, role), v] as const));

async function copyTokenizer(from: string, to: string): Promise<void> {
  let copied = 0;
  for (const name of TOKENIZER_FILES) {
    if (!existsSync(join(from, name))) continue;
    await copyFile(join(from, name), join(to, name));
    if (name === 'vocab.txt' || name === 'tokenizer.json') copied++;
  }
  if (copied === 0) throw new InputError(from, undefined, undefined, 'no vocab.txt or tokenizer.json to copy into the export');
}

/** Writes one encoder of `src` in `format` to `dir` (which does not exist yet). */
async function exportEncoder(src: string, dir: string, format: ExportFormat, role: Role): Promise<Omit<ExportedEncoder, 'dir'>> {
  const { config, tensors } = await readModelDir(src, role);
  const settings = await embeddingSettings(src, role, config);
  const notes: string[] = [];
  const template = settings[`${role}_template`];
  if (format === 'dpr') {
    if (config.model_type !== 'bert' && config.model_type !== 'dpr') {
      throw new UsageError(`${src}: model_type ${config.model_type} cannot be exported as DPR: DPR's HF classes (DPRQuestionEncoder/DPRContextEncoder) are BERT-based; use --format hf or sentence-transformers`);
    }
    // DPREncoder pools the first token and returns it (projected) as pooler_output, unnormalized.
    if (settings.pooling !== 'cls') throw new UsageError(`${src}: pooling is ${settings.pooling}; DPR's HF classes pool the first token ([CLS]), so their vectors would differ; use --format hf or sentence-transformers`);
    if (settings.normalize) throw new UsageError(`${src}: the encoder L2-normalizes its vectors; DPR's HF classes do not, so their vectors would differ; use --format hf or sentence-transformers`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), dprConfigJson(config, role));
    await writeSafetensors(join(dir, 'model.safetensors'), toDprLayout(tensors, role));
    await copyTokenizer(src, dir);
    if (template) notes.push(`inputs are rendered with the ${role} template ${JSON.stringify(template)} before tokenizing: DPR users must do the same`);
  } else {
    if (format === 'sentence-transformers' && config.model_type === 'dpr' && config.projection_dim > 0) {
      throw new UsageError(`${src}: a DPR encoder with a projection (projection_dim ${config.projection_dim}) cannot be a sentence-transformers Transformer module (it returns token vectors, the projection would be lost); use --format dpr or hf`);
    }
    const prompt = format === 'sentence-transformers' ? stPromptOf(template, `${role}_template`) : '';
    await writeModelDir(dir, config, tensors, src, role);
    if (format === 'sentence-transformers') {
      await writeSentenceTransformersFiles(dir, {
        pooling: settings.pooling,
        normalize: settings.normalize,
        dimension: config.hidden_size,
        maxLength: Math.min(settings.max_length, maxSequenceLength(config)),
        ...(role === 'query' ? { queryPrefix: prompt } : { passagePrefix: prompt }),
      });
      if (prompt) notes.push(`encode with prompt_name="${role}" (prompt ${JSON.stringify(prompt)})`);
      if (role === 'passage' && !template && settings.embed_title) {
        notes.push('dprep embeds titled passages as the pair [CLS] title [SEP] text [SEP]; SentenceTransformer.encode takes one string, so only untitled passages embed the same');
      }
    }
  }
  // dprep's own readers embed the export exactly as the source (pooling, templates, max length).
  await writeFile(join(dir, ENCODER_SETTINGS_FILE), JSON.stringify(settings, null, 2) + '\n');
  const written = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { model_type: string; architectures: string[] };
  return { role, modelType: written.model_type, architectures: written.architectures, notes };
}

/**
 * Exports the encoders of `model` (a run dir with query_encoder/ + passage_encoder/, or one
 * encoder dir) to `out` in `format`; `role` picks which (default both).
 * @example await exportModel('runs/fr1', 'exported/fr1-st', { format: 'sentence-transformers' });
 */
export async function exportModel(model: string, out: string, opts: { format: ExportFormat; role?: ExportRole }): Promise<ExportedEncoder[]> {
  if (!existsSync(join(model, 'config.json')) && !existsSync(join(model, 'query_encoder', 'config.json')) && !existsSync(join(model, 'passage_encoder', 'config.json'))) {
    throw new InputError(model, undefined, undefined, 'neither a model dir (config.json) nor a run dir (query_encoder/, passage_encoder/)');
  }
  refuseOverlap(model, out);
  const roles: Role[] = (opts.role ?? 'both') === 'both' ? ['query', 'passage'] : [opts.role as Role];
  const tmp = tempPathFor(resolve(out));
  await mkdir(dirname(tmp), { recursive: true });
  const written: ExportedEncoder[] = [];
  try {
    for (const role of roles) {
      const sub = roles.length === 1 ? '' : EXPORT_SUBDIRS[opts.format][role];
      const result = await exportEncoder(encoderSource(model, role), sub ? join(tmp, sub) : tmp, opts.format, role);
      written.push({ ...result, dir: sub });
    }
    await replaceDir(tmp, out);
  } catch (err) {
    await removeTemp(tmp);
    throw namingTarget(err, out);
  }
  return written;
}
