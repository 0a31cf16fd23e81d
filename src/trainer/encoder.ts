/**
 * `loadEncoder`: a query or passage encoder from a Hugging Face model dir, as dprep's `Encoder`;
 * `openEncoder`: the same from a run dir. search/ and miners/ take the `Encoder` (src/types.ts)
 * their caller opened, so they never load the trainer themselves.
 */
import type { Encoder, EncodeInput, PreparedInputs } from '../types.ts';
import { loadTf } from './backend.ts';
import type { BackendChoice } from './tf-types.ts';
import { InputError, UsageError } from '../util/errors.ts';
import type { Pooling } from './bert.ts';
import type { EncoderConfig, ModelType } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import { createEncoderModel, maxSequenceLength, type Role } from './families.ts';
import { ENCODER_SETTINGS_FILE, readModelDir, type EncoderSettings } from './checkpoint.ts';
import { isSentenceTransformersDir, readSentenceTransformersDir, type StSettings } from './st-dir.ts';
import { parseTemplate, resolveTemplate, type InputTemplate } from './template.ts';
import { checkTokenizerConfig, loadTokenizer, padBatch, type TokenBatch, type TokenizedInput } from './tokenizer.ts';
import type { EncoderModel } from './model-base.ts';
import type { BackendName, TF } from './tf-types.ts';
import { WorkerPool } from '../util/workers.ts';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { sha256Dir, type FileSetHash } from '../io/content-hash.ts';
import { join } from 'node:path';
import { availableParallelism, freemem } from 'node:os';
import { chooseEncodeBatch, paramCount, type EncodeBatchChoice } from './memory.ts';
import { readEncoderConfig } from './config.ts';
import { loadNative } from './native.ts';
import { NativeForward, nativeForwardUnavailable } from './native-forward.ts';

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
  /**
   * Inputs per forward pass: refused (UsageError naming `batchFlag`, with the numbers) when the
   * memory estimate says it cannot fit; default: the largest that fits, at most `batchCap` (64).
   */
  batchSize?: number;
  /** The option the caller's user set `batchSize` with (named when it is refused; default --batch). */
  batchFlag?: string;
  batchCap?: number;
  /** Memory budget of the estimate (default: 3.8 GB on wasm, else 80% of the free RAM). */
  maxMemoryGb?: number;
  /**
   * Bytes kept free for tensors that load after this encoder (another encoder's weights); what is
   * in tfjs already (an encoder loaded before) is counted too.
   */
  reserveBytes?: number;
  /** Explicit settings win; otherwise dprep_encoder.json, then a sentence-transformers dir's, then cls / false. */
  pooling?: Pooling;
  normalize?: boolean;
  /** Which encoder of a DPR checkpoint holding both, and which template applies (default: the stored role, else query). */
  role?: Role;
  /** Input templates (template.ts); the one of `role` applies. Win over the stored ones and ST prompts. */
  queryTemplate?: string;
  passageTemplate?: string;
  /**
   * Sort each encode call's inputs by token length and batch them in that order, so a batch is
   * padded to its own longest member (default true); vectors come back in input order either way.
   */
  bucketing?: boolean;
  /**
   * Forward passes on this many replicas (worker threads, each its own tfjs backend and copy of the
   * weights, one OpenBLAS thread each); 1 (default): in this thread, OpenBLAS on every core.
   * Vectors are the same bytes whatever the count. `auto`: one per core, at most 4, as many as
   * the free RAM holds.
   */
  workers?: number | 'auto';
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
  /** Inputs per forward pass, and the memory estimate it was chosen or checked with. */
  readonly batchSize: number;
  readonly memory: EncodeBatchChoice;
  /** Replicas running the forward passes (1: this thread). */
  readonly workers: number;
  /** What computes the forward passes: dprep's native kernels (native-forward.ts) or the tfjs model. */
  readonly forward: 'native' | 'tfjs';
  /** Counts over every encode call so far (padding: see bucketBatches). */
  readonly stats: EncodeStats;
  prepare(inputs: readonly EncodeInput[]): Promise<PreparedInputs>;
  encodePrepared(prepared: PreparedInputs): Promise<Float32Array>;
}

/** Token counts of an encoder's calls: real tokens, tokens fed (padding included), and what batches in input order would have fed. */
export interface EncodeStats {
  inputs: number;
  tokens: number;
  padded: number;
  paddedInOrder: number;
}

interface Prepared extends PreparedInputs {
  tokens: TokenizedInput[];
}

/**
 * The batches one encode call runs: with `bucketing`, rows sorted by token length (ties in input
 * order) and cut into batches of `batchSize`, each padded to its own longest row; without, batches
 * of consecutive rows. The plan depends only on the lengths, in order: the same inputs give the
 * same batches. Counts real tokens, padded tokens, and the padded tokens of batches in input order.
 * @example bucketBatches([5, 1, 4, 2], 2, true).batches // [[1, 3], [2, 0]]
 */
export function bucketBatches(lengths: readonly number[], batchSize: number, bucketing: boolean): { batches: number[][]; tokens: number; padded: number; paddedInOrder: number } {
  const rows = lengths.map((_, i) => i);
  const inOrder: number[][] = [];
  for (let s = 0; s < rows.length; s += batchSize) inOrder.push(rows.slice(s, s + batchSize));
  const padOf = (batch: number[]) => batch.length * Math.max(1, ...batch.map((r) => lengths[r]));
  const paddedInOrder = inOrder.reduce((n, b) => n + padOf(b), 0);
  let batches = inOrder;
  if (bucketing) {
    const sorted = rows.slice().sort((a, b) => lengths[a] - lengths[b] || a - b);
    batches = [];
    for (let s = 0; s < sorted.length; s += batchSize) batches.push(sorted.slice(s, s + batchSize));
  }
  return { batches, tokens: lengths.reduce((n, l) => n + l, 0), padded: bucketing ? batches.reduce((n, b) => n + padOf(b), 0) : paddedInOrder, paddedInOrder };
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
  const { tf, backend } = await loadTf(opts.backend ?? 'auto');
  const config = await readEncoderConfig(join(modelDir, 'config.json'));
  const maxLength = Math.min(opts.maxLength ?? trained.max_length ?? st?.maxLength ?? 256, maxSequenceLength(config));
  // The BERT-layout families run on the native kernels when built (DPREP_NATIVE_FORWARD=0: tfjs).
  const forward = nativeForwardUnavailable(config) === undefined ? 'native' : 'tfjs';
  // Before the weights are read: a batch that cannot fit is refused, never aborted inside wasm.
  const memory = chooseEncodeBatch(config, {
    maxLength, backend, native: backend === 'wasm' && loadNative() !== undefined, nativeForward: forward === 'native',
    requested: opts.batchSize, flag: opts.batchFlag, cap: opts.batchCap, maxMemoryGb: opts.maxMemoryGb,
    residentBytes: tf.memory().numBytes + (opts.reserveBytes ?? 0),
  });
  const batchSize = memory.batch;
  // auto: one replica per core (at most 4), as many as the free RAM holds at this batch's estimate.
  const workers = opts.workers === 'auto' ? autoWorkers(memory.bytes) : (opts.workers ?? 1);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${workers}`);
  const tokenizer = await loadTokenizer(modelDir, maxLength, { template, lowercase: st?.lowercase || undefined });
  for (const warning of checkTokenizerConfig(tokenizer, config, join(modelDir, 'config.json'))) log(`warning: ${warning}`);
  const pooling: Pooling = opts.pooling ?? trained.pooling ?? (st?.pooling as Pooling | undefined) ?? 'cls';
  const normalize = opts.normalize ?? trained.normalize ?? st?.normalize ?? false;
  // One forward pass of a padded batch, here or in a replica (the same code on the same bytes: the same vectors).
  let embedBatch: (batch: TokenBatch) => Promise<Float32Array>;
  let release: () => void;
  // Read (and checked) here, so a bad checkpoint is an InputError before any replica starts.
  const { tensors } = await readModelDir(modelDir, opts.role ?? trained.role);
  if (workers > 1) {
    // Replicas on worker threads, each with its own model; one OpenBLAS thread and one element-wise
    // thread per call (both settings are process-wide), as the trainer's replicas: the replicas fill the cores.
    loadNative()?.kernels.setThreads(1);
    loadNative()?.kernels.setElementwiseThreads(1);
    const init: EncoderReplicaInit = { name: `encoder-${dir}`, config, tensors: [...tensors], backend, pooling, normalize, native: forward === 'native' };
    const pool = WorkerPool.start<TokenBatch, Float32Array>('encoder replica', new URL('./encoder-replica.ts', import.meta.url), workers, init);
    embedBatch = (batch) => pool.run(batch, [batch.ids.buffer, batch.typeIds.buffer, batch.mask.buffer] as ArrayBuffer[]);
    release = () => {
      void pool.close();
      // OpenBLAS's own default again for later in-thread encoders.
      loadNative()?.kernels.setThreads(Number(process.env.OPENBLAS_NUM_THREADS) || availableParallelism());
      loadNative()?.kernels.setElementwiseThreads(Math.min(availableParallelism(), 8));
    };
  } else if (forward === 'native') {
    const native = new NativeForward(config, tensors);
    embedBatch = async (batch) => native.embed(batch, pooling, normalize);
    release = () => {};
  } else {
    const model = createEncoderModel(tf, config, tensors, `encoder-${dir}`);
    embedBatch = async (batch) => embedTokens(tf, model, batch, pooling, normalize);
    release = () => model.dispose();
  }
  const dim = config.projection_dim > 0 ? config.projection_dim : config.hidden_size;
  const bucketing = opts.bucketing ?? true;
  const stats: EncodeStats = { inputs: 0, tokens: 0, padded: 0, paddedInOrder: 0 };
  const usesTitle = template ? template.usesTitle : embedTitle;
  const encoder: LoadedEncoder = {
    dim,
    workers,
    forward,
    modelType: config.model_type,
    pooling,
    normalize,
    maxLength,
    role,
    ...(template ? { template: template.source } : {}),
    usesTitle,
    batchSize,
    memory,
    stats,
    async prepare(inputs: readonly EncodeInput[]): Promise<PreparedInputs> {
      const tokens = await tokenizer.encode(usesTitle ? inputs : inputs.map((x) => ({ text: x.text })));
      return { count: inputs.length, tokens } as PreparedInputs;
    },
    async encodePrepared(prepared: PreparedInputs): Promise<Float32Array> {
      const tokens = (prepared as Prepared).tokens;
      const out = new Float32Array(tokens.length * dim);
      const plan = bucketBatches(tokens.map((t) => t.ids.length), batchSize, bucketing);
      stats.inputs += tokens.length;
      stats.tokens += plan.tokens;
      stats.padded += plan.padded;
      stats.paddedInOrder += plan.paddedInOrder;
      // With replicas every batch of the call is in flight at once (the pool runs one per replica).
      await Promise.all(
        plan.batches.map(async (rows) => {
          const data = await embedBatch(padBatch(rows.map((r) => tokens[r]), tokenizer.padId)); // [rows, dim]
          rows.forEach((r, i) => out.set(data.subarray(i * dim, (i + 1) * dim), r * dim));
        }),
      );
      return out;
    },
    async encode(inputs: readonly EncodeInput[]): Promise<Float32Array> {
      return encoder.encodePrepared(await encoder.prepare(inputs));
    },
    dispose: () => release(),
  };
  return encoder;
}

/**
 * The replica count of `workers: 'auto'`: one per core, at most 4, no more than 80% of the free
 * RAM holds at `bytesPerReplica` (each replica has its own heap and copy of the weights); at least 1.
 * @example autoWorkers(3.6 * 2 ** 30, 16, 8 * 2 ** 30) // 1
 */
export function autoWorkers(bytesPerReplica: number, cores = availableParallelism(), free = freemem()): number {
  return Math.max(1, Math.min(cores, 4, Math.floor((free * 0.8) / bytesPerReplica)));
}

/** What an encoder replica (encoder-replica.ts) is started with: the checked weights and the settings the encoder resolved. */
export interface EncoderReplicaInit {
  name: string;
  config: EncoderConfig;
  tensors: [string, NamedTensor][];
  backend: BackendName;
  pooling: Pooling;
  normalize: boolean;
  /** Forward passes on the native kernels (native-forward.ts) instead of a tfjs model. */
  native: boolean;
}

/**
 * The pooled vectors of one padded batch (`[batch, dim]`, row-major), synchronously: one tidy
 * around the forward pass, read back with dataSync.
 */
export function embedTokens(tf: TF, model: EncoderModel, batch: TokenBatch, pooling: Pooling, normalize: boolean): Float32Array {
  const vecs = tf.tidy(() => model.embed(batch, pooling, normalize));
  try {
    return (vecs.dataSync() as Float32Array).slice(); // its own buffer: a replica transfers it
  } finally {
    vecs.dispose();
  }
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

/**
 * Bytes of the weights `openEncoder(dir, role)` would put in tfjs (from config.json alone), for a
 * caller that holds two encoders in one heap to reserve room for the second.
 * @example const reserveBytes = await encoderWeightBytes('runs/s1', 'passage');
 */
export async function encoderWeightBytes(dir: string, role: Role): Promise<number> {
  const resolved = encoderDirFor(dir, role);
  const modelDir = isSentenceTransformersDir(resolved) ? (await readSentenceTransformersDir(resolved)).modelDir : resolved;
  return 4 * paramCount(await readEncoderConfig(join(modelDir, 'config.json')));
}

/** The passage encoder a query-side option implies: only a bi-encoder dir (holding passage_encoder/) implies one. */
export function impliedPassageEncoder(dir: string): string | undefined {
  return existsSync(join(dir, 'passage_encoder', 'config.json')) ? dir : undefined;
}

export type { LoadEncoderOptions as EncoderOptions };
