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
import { createEncoderModel, maxSequenceLength } from './families.ts';
import { ENCODER_SETTINGS_FILE, readModelDir, type EncoderSettings } from './checkpoint.ts';
import { loadTokenizer, padBatch } from './tokenizer.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export { ENCODER_SETTINGS_FILE, type EncoderSettings };

/** The training-time settings stored with an encoder (in `dir` or its `<role>_encoder/`), if any. */
export function readEncoderSettings(dir: string, role?: 'query' | 'passage'): Partial<EncoderSettings> {
  const candidates = [join(dir, ENCODER_SETTINGS_FILE), ...(role ? [join(dir, `${role}_encoder`, ENCODER_SETTINGS_FILE)] : [])];
  const file = candidates.find((f) => existsSync(f));
  if (!file) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<EncoderSettings>;
  } catch (err) {
    throw new InputError(file, undefined, undefined, `invalid JSON (${(err as Error).message})`);
  }
}

export interface LoadEncoderOptions {
  backend?: BackendChoice;
  /** Tokens per input, specials included (default 256). */
  maxLength?: number;
  /** Inputs per forward pass (default 32). */
  batchSize?: number;
  pooling?: Pooling;
  normalize?: boolean;
  /** Which encoder of a DPR checkpoint holding both (default: query first). */
  role?: 'query' | 'passage';
}

/**
 * Loads a query or passage encoder from a HF model dir (config.json, model.safetensors, vocab.txt/tokenizer.json).
 * @example
 * const enc = await loadEncoder('runs/stage1/passage_encoder', { maxLength: 256 });
 * const vecs = await enc.encode([{ title: 'Paris', text: 'Paris is the capital of France.' }]); // 1 × enc.dim
 * enc.dispose();
 */
export async function loadEncoder(dir: string, opts: LoadEncoderOptions = {}): Promise<Encoder> {
  const { tf } = await loadTf(opts.backend ?? 'auto');
  const { config, tensors } = await readModelDir(dir, opts.role);
  // Explicit options win; otherwise embed the way the encoder was trained.
  const trained = readEncoderSettings(dir, opts.role);
  const maxLength = Math.min(opts.maxLength ?? trained.max_length ?? 256, maxSequenceLength(config));
  const tokenizer = await loadTokenizer(dir, maxLength);
  const model = createEncoderModel(tf, config, tensors, `encoder-${dir}`);
  const batchSize = opts.batchSize ?? 32;
  const pooling = opts.pooling ?? trained.pooling ?? 'cls';
  const normalize = opts.normalize ?? trained.normalize ?? false;
  const embedTitle = trained.embed_title ?? true;
  return {
    dim: model.dim,
    async encode(inputs: readonly EncodeInput[]): Promise<Float32Array> {
      const out = new Float32Array(inputs.length * model.dim);
      for (let start = 0; start < inputs.length; start += batchSize) {
        const slice = inputs.slice(start, start + batchSize);
        const batch = padBatch(await tokenizer.encode(embedTitle ? slice : slice.map((x) => ({ text: x.text }))));
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
export async function openEncoder(dir: string, role: 'query' | 'passage', opts: Omit<LoadEncoderOptions, 'role'> = {}): Promise<Encoder> {
  const sub = join(dir, `${role}_encoder`);
  return loadEncoder(existsSync(join(sub, 'config.json')) ? sub : dir, { ...opts, role });
}

export type { LoadEncoderOptions as EncoderOptions };
