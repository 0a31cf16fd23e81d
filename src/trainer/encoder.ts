/**
 * `loadEncoder`: a query or passage encoder from a Hugging Face model dir, as dprep's `Encoder`;
 * `openEncoder`: the same from a run dir. search/ and miners/ take the `Encoder` (src/types.ts)
 * their caller opened, so they never load the trainer themselves.
 */
import type { Encoder, EncodeInput } from '../types.ts';
import { loadTf } from './backend.ts';
import type { BackendChoice } from './tf-types.ts';
import { InputError } from '../util/errors.ts';
import type { Pooling } from './bert.ts';
import type { ModelType } from './config.ts';
import { createEncoderModel, maxSequenceLength, type Role } from './families.ts';
import { ENCODER_SETTINGS_FILE, readModelDir, type EncoderSettings } from './checkpoint.ts';
import { isSentenceTransformersDir, readSentenceTransformersDir, type StSettings } from './st-dir.ts';
import { parseTemplate, resolveTemplate, type InputTemplate } from './template.ts';
import { checkTokenizerConfig, loadTokenizer, padBatch } from './tokenizer.ts';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { sha256Dir, type FileSetHash } from '../io/content-hash.ts';
import { join } from 'node:path';

export { ENCODER_SETTINGS_FILE, type EncoderSettings };

/** The settings file of an encoder (in `dir` or its `<role>_encoder/`), if any. */
function settingsFile(dir: string, role?: Role): string | undefined {
  const candidates = [join(dir, ENCODER_SETTINGS_FILE), ...(role ? [join(dir, `${role}_encoder`, ENCODER_SETTINGS_FILE)] : [])];
  return candidates.find((f) => existsSync(f));
}

/** The training-time settings stored with an encoder (in `dir` or its `<role>_encoder/`), if any. */
export function readEncoderSettings(dir: string, role?: Role): Partial<EncoderSettings> {
  const file = settingsFile(dir, role);
  if (!file) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<EncoderSettings>;
  } catch (err) {
    throw new InputError(file, undefined, undefined, `invalid JSON (${(err as Error).message})`);
  }
}

export interface LoadEncoderOptions {
  backend?: BackendChoice;
  /** Tokens per input, specials included (default: as trained, else 256; capped by the model's positions). */
  maxLength?: number;
  /** Inputs per forward pass (default 32). */
  batchSize?: number;
  /** Explicit settings win; otherwise dprep_encoder.json, then a sentence-transformers dir's, then cls / false. */
  pooling?: Pooling;
  normalize?: boolean;
  /** Which encoder of a DPR checkpoint holding both, and which template applies (default: the stored role, else query). */
  role?: Role;
  /** Input templates (template.ts); the one of `role` applies. Win over the stored ones and ST prompts. */
  queryTemplate?: string;
  passageTemplate?: string;
  /** Where tokenizer/config warnings go (default: stderr). */
  log?: (message: string) => void;
}

/** An `Encoder` that also says how it embeds (what commands report and record). */
export interface LoadedEncoder extends Encoder {
  readonly modelType: ModelType;
  readonly pooling: Pooling;
  readonly normalize: boolean;
  readonly maxLength: number;
  readonly role: Role;
  /** The input template's source, when inputs are rendered through one. */
  readonly template?: string;
  /** Passages' titles reach the model (DPR pair or a template with {title}); false: they are dropped. */
  readonly usesTitle: boolean;
}

/**
 * The loadEncoder options a command's override flags give (EMBED_OVERRIDE_OPTIONS, TEMPLATE_OPTIONS):
 * an unset flag leaves the choice to the encoder dir. Bad templates are refused here, before any model loads.
 * @example const overrides = encoderOverrides(opts); await openEncoder(opts.model, 'passage', { ...overrides, maxLength: 256 });
 */
export function encoderOverrides(opts: { pooling?: Pooling; normalize?: boolean; queryTemplate?: string; passageTemplate?: string }): Pick<LoadEncoderOptions, 'pooling' | 'normalize' | 'queryTemplate' | 'passageTemplate'> {
  checkTemplateOptions(opts);
  return {
    ...(opts.pooling !== undefined ? { pooling: opts.pooling } : {}),
    ...(opts.normalize ? { normalize: true } : {}),
    ...(opts.queryTemplate !== undefined ? { queryTemplate: opts.queryTemplate } : {}),
    ...(opts.passageTemplate !== undefined ? { passageTemplate: opts.passageTemplate } : {}),
  };
}

/**
 * Refuses bad --query-template / --passage-template values with a UsageError; commands call it
 * before loading any model.
 * @example checkTemplateOptions({ queryTemplate: 'query: {text}' });
 */
export function checkTemplateOptions(opts: { queryTemplate?: string; passageTemplate?: string }): void {
  if (opts.queryTemplate !== undefined) parseTemplate(opts.queryTemplate, '--query-template');
  if (opts.passageTemplate !== undefined) parseTemplate(opts.passageTemplate, '--passage-template');
}

/**
 * Loads a query or passage encoder from a HF model dir (config.json, weights, vocab.txt/tokenizer.json)
 * or a sentence-transformers dir (its pooling, normalization and prompts apply).
 * @example
 * const enc = await loadEncoder('runs/stage1/passage_encoder', { maxLength: 256 });
 * const vecs = await enc.encode([{ title: 'Paris', text: 'Paris is the capital of France.' }]); // 1 × enc.dim
 * enc.dispose();
 */
export async function loadEncoder(dir: string, opts: LoadEncoderOptions = {}): Promise<LoadedEncoder> {
  const log = opts.log ?? ((m: string) => process.stderr.write(m + '\n'));
  // Explicit options win; otherwise embed the way the encoder was trained (or its ST dir says).
  const storedFile = settingsFile(dir, opts.role);
  const trained = readEncoderSettings(dir, opts.role);
  const role: Role = opts.role ?? trained.role ?? 'query';
  const st: StSettings | undefined = isSentenceTransformersDir(dir) ? await readSentenceTransformersDir(dir) : undefined;
  const embedTitle = trained.embed_title ?? true;
  // Templates are checked before any weights are read.
  const template: InputTemplate | undefined = resolveTemplate(role, {
    option: role === 'query' ? opts.queryTemplate : opts.passageTemplate,
    stored: trained,
    storedFile,
    // dprep_encoder.json describes the whole input: without templates it means DPR's pair, even in an ST dir.
    stPrefix: st && !storedFile ? (role === 'query' ? st.queryPrefix : st.passagePrefix) : undefined,
    embedTitle,
  });
  const modelDir = st?.modelDir ?? dir;
  const { tf } = await loadTf(opts.backend ?? 'auto');
  const { config, tensors } = await readModelDir(modelDir, opts.role ?? trained.role);
  const maxLength = Math.min(opts.maxLength ?? trained.max_length ?? st?.maxLength ?? 256, maxSequenceLength(config));
  const tokenizer = await loadTokenizer(modelDir, maxLength, { template, lowercase: st?.lowercase || undefined });
  for (const warning of checkTokenizerConfig(tokenizer, config, join(modelDir, 'config.json'))) log(`warning: ${warning}`);
  const model = createEncoderModel(tf, config, tensors, `encoder-${dir}`);
  const batchSize = opts.batchSize ?? 32;
  const pooling: Pooling = opts.pooling ?? trained.pooling ?? (st?.pooling as Pooling | undefined) ?? 'cls';
  const normalize = opts.normalize ?? trained.normalize ?? st?.normalize ?? false;
  const usesTitle = template ? template.usesTitle : embedTitle;
  return {
    dim: model.dim,
    modelType: config.model_type,
    pooling,
    normalize,
    maxLength,
    role,
    ...(template ? { template: template.source } : {}),
    usesTitle,
    async encode(inputs: readonly EncodeInput[]): Promise<Float32Array> {
      const out = new Float32Array(inputs.length * model.dim);
      for (let start = 0; start < inputs.length; start += batchSize) {
        const slice = inputs.slice(start, start + batchSize);
        const batch = padBatch(await tokenizer.encode(usesTitle ? slice : slice.map((x) => ({ text: x.text }))), tokenizer.padId);
        const vecs = tf.tidy(() => model.embed(batch, pooling, normalize));
        out.set((await vecs.data()) as Float32Array, start * model.dim);
        vecs.dispose();
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
}

/**
 * Opens the `role` encoder of a run or model dir, the one way commands open an encoder: a dir
 * holding `query_encoder/` and `passage_encoder/` (what `dprep train` writes) gives the one for
 * `role`; any other dir is a shared encoder, or a DPR checkpoint holding both (picked by role).
 * @example const queryEncoder = await openEncoder('runs/stage1', 'query', { maxLength: 64 });
 */
export async function openEncoder(dir: string, role: Role, opts: Omit<LoadEncoderOptions, 'role'> = {}): Promise<LoadedEncoder> {
  return loadEncoder(encoderDirFor(dir, role), { ...opts, role });
}

/** The dir `openEncoder(dir, role)` loads. */
export function encoderDirFor(dir: string, role: Role): string {
  const sub = join(dir, `${role}_encoder`);
  return existsSync(join(sub, 'config.json')) ? sub : dir;
}

/**
 * What a manifest records to identify an encoder by content: the sha256 of every file of the dir
 * `openEncoder(dir, role)` loads (config, weights, tokenizer, dprep_encoder.json, and a
 * sentence-transformers dir's numbered module dirs), and one hash over them.
 * @example const { sha256 } = await encoderContentHash('runs/s1', 'passage');
 */
export async function encoderContentHash(dir: string, role: Role): Promise<FileSetHash> {
  const resolved = encoderDirFor(dir, role);
  const subdirs = readdirSync(resolved, { withFileTypes: true }).filter((e) => e.isDirectory() && /^\d+_/.test(e.name)).map((e) => e.name);
  return sha256Dir(resolved, subdirs);
}

/** The passage encoder a query-side option implies: only a bi-encoder dir (holding passage_encoder/) implies one. */
export function impliedPassageEncoder(dir: string): string | undefined {
  return existsSync(join(dir, 'passage_encoder', 'config.json')) ? dir : undefined;
}

export type { LoadEncoderOptions as EncoderOptions };
