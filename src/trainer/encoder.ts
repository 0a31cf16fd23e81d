/**
 * `loadEncoder`: a query or passage encoder from a Hugging Face model dir, as dprep's `Encoder`.
 */
import type { Encoder, EncodeInput } from '../types.ts';
import { loadTf, type BackendChoice } from './backend.ts';
import { BertModel, type Pooling } from './bert.ts';
import { readModelDir } from './checkpoint.ts';
import { loadTokenizer, padBatch } from './tokenizer.ts';

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
export async function loadEncoder(
  dir: string,
  opts: { backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu'; maxLength?: number; batchSize?: number; pooling?: 'cls' | 'mean'; normalize?: boolean; role?: 'query' | 'passage' } = {},
): Promise<Encoder> {
  const { tf } = await loadTf(opts.backend ?? 'auto');
  const { config, tensors } = await readModelDir(dir, opts.role);
  const maxLength = Math.min(opts.maxLength ?? 256, config.max_position_embeddings);
  const tokenizer = await loadTokenizer(dir, maxLength);
  const model = new BertModel(tf, config, tensors, `encoder-${dir}`);
  const batchSize = opts.batchSize ?? 32;
  const pooling = opts.pooling ?? 'cls';
  const normalize = opts.normalize ?? false;
  return {
    dim: config.hidden_size,
    async encode(inputs: readonly EncodeInput[]): Promise<Float32Array> {
      const out = new Float32Array(inputs.length * config.hidden_size);
      for (let start = 0; start < inputs.length; start += batchSize) {
        const batch = padBatch(await tokenizer.encode(inputs.slice(start, start + batchSize)));
        const vecs = tf.tidy(() => model.embed(batch, pooling, normalize));
        out.set((await vecs.data()) as Float32Array, start * config.hidden_size);
        vecs.dispose();
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
}

export type { LoadEncoderOptions as EncoderOptions };
