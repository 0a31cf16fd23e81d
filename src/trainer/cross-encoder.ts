/**
 * Cross-encoders: a Hugging Face `*ForSequenceClassification` model dir (config.json, weights,
 * tokenizer) scoring (question, passage) pairs, for `mine rescore` (RocketQA's denoising). The
 * transformer is the family's own encoder (families.ts); only the classification head is added
 * here, as transformers defines it per class (dropout is inactive at inference):
 *
 * model_type                      | head on the first token's vector h          | HF tensor names
 * bert                            | classifier(tanh(pooler(h)))                  | bert.pooler.dense.*, classifier.*
 * roberta, camembert, xlm-roberta | out_proj(tanh(dense(h)))                     | classifier.dense.*, classifier.out_proj.*
 * distilbert                      | classifier(relu(pre_classifier(h)))          | pre_classifier.*, classifier.*
 *
 * Input: the pair `[CLS] question [SEP] title text [SEP]` (RoBERTa: `<s> q </s></s> title text </s>`)
 * with token type ids where the family has them, truncated longest-first to `maxLength`.
 * Score: the logit with num_labels 1; with 2, logit[1] − logit[0], the log-odds of label 1
 * ("relevant"): sigmoid(score) is then exactly softmax's probability of label 1, and with one label
 * sigmoid(score) is the probability sentence-transformers' CrossEncoder reports. One scale, either way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { InputError, UsageError } from '../util/errors.ts';
import { loadTf } from './backend.ts';
import type { BackendChoice } from './tf-types.ts';
import { readEncoderConfig, type ModelType } from './config.ts';
import { createEncoderModel, maxSequenceLength, readFamilyTensors } from './families.ts';
import type { NamedTensor } from './safetensors.ts';
import { checkTokenizerConfig, loadTokenizer, padBatch, type TokenBatch } from './tokenizer.ts';
import { readWeights } from './weights.ts';

/** One pair to score: the question against a passage (title and text). */
export interface CrossEncoderPair {
  question: string;
  title: string;
  text: string;
}

type Activation = 'tanh' | 'relu' | 'none';
/** A head layer: HF Linear names to try (in order) and the activation after it. */
type HeadLayer = { names: string[]; act: Activation };

const ROBERTA_HEAD: HeadLayer[] = [
  { names: ['classifier.dense'], act: 'tanh' },
  { names: ['classifier.out_proj'], act: 'none' },
];
const HEADS: Partial<Record<ModelType, HeadLayer[]>> = {
  bert: [
    { names: ['bert.pooler.dense', 'pooler.dense'], act: 'tanh' },
    { names: ['classifier'], act: 'none' },
  ],
  roberta: ROBERTA_HEAD,
  camembert: ROBERTA_HEAD,
  'xlm-roberta': ROBERTA_HEAD,
  distilbert: [
    { names: ['pre_classifier'], act: 'relu' },
    { names: ['classifier'], act: 'none' },
  ],
};

interface Linear {
  name: string;
  out: number;
  in: number;
  weight: Float32Array; // [out, in], as HF stores it
  bias: Float32Array; // [out]
  act: Activation;
}

export interface CrossEncoderOptions {
  backend?: BackendChoice;
  /** Tokens per pair, specials included (default 256; capped by the model's positions). */
  maxLength?: number;
  /** Pairs per forward pass (default 32). */
  batchSize?: number;
  log?: (message: string) => void;
}

export interface CrossEncoder {
  readonly modelType: ModelType;
  /** 1 or 2 (config.json's id2label, else num_labels). */
  readonly numLabels: number;
  readonly maxLength: number;
  /** Scores of the pairs (see the module doc: log-odds of relevance), in input order. */
  score(pairs: readonly CrossEncoderPair[]): Promise<Float64Array>;
  /** Logits `[batch][numLabels]` and scores of an already tokenized batch. */
  scoreBatch(batch: TokenBatch): Promise<{ logits: number[][]; scores: number[] }>;
  dispose(): void;
}

/** num_labels of a config: HF writes id2label (num_labels is derived from it); default 2 as HF's. */
function numLabelsOf(raw: { id2label?: unknown; num_labels?: unknown }, file: string): number {
  const n = raw.id2label && typeof raw.id2label === 'object' ? Object.keys(raw.id2label).length : typeof raw.num_labels === 'number' ? raw.num_labels : 2;
  if (n !== 1 && n !== 2) throw new InputError(file, undefined, raw.id2label ? 'id2label' : 'num_labels', `a cross-encoder scores relevance with 1 or 2 labels, got ${n}`);
  return n;
}

/** The head's Linear layers from the checkpoint's tensors, shapes checked against the config. */
function readHead(layers: HeadLayer[], raw: Map<string, NamedTensor>, file: string, hidden: number, numLabels: number): Linear[] {
  return layers.map((layer, i) => {
    const name = layer.names.find((n) => raw.has(`${n}.weight`));
    if (!name) throw new InputError(file, `tensor "${layer.names[0]}.weight"`, undefined, `missing: not a *ForSequenceClassification checkpoint (looked for ${layer.names.map((n) => n + '.weight').join(', ')})`);
    const w = raw.get(`${name}.weight`)!;
    const b = raw.get(`${name}.bias`);
    const out = i === layers.length - 1 ? numLabels : hidden;
    if (w.shape.length !== 2 || w.shape[0] !== out || w.shape[1] !== hidden) throw new InputError(file, `tensor "${name}.weight"`, 'shape', `expected [${out},${hidden}] from config.json, got [${w.shape}]`);
    if (!b || b.shape.length !== 1 || b.shape[0] !== out) throw new InputError(file, `tensor "${name}.bias"`, 'shape', `expected [${out}], got ${b ? `[${b.shape}]` : 'none'}`);
    return { name, out, in: hidden, weight: w.data, bias: b.data, act: layer.act };
  });
}

/** The head on one first-token vector, in float64. */
function applyHead(head: readonly Linear[], x0: Float32Array): number[] {
  let x: ArrayLike<number> = x0;
  for (const l of head) {
    const y = new Array<number>(l.out);
    for (let o = 0; o < l.out; o++) {
      let s = l.bias[o];
      for (let i = 0; i < l.in; i++) s += l.weight[o * l.in + i] * x[i];
      y[o] = l.act === 'tanh' ? Math.tanh(s) : l.act === 'relu' ? Math.max(0, s) : s;
    }
    x = y;
  }
  return Array.from(x);
}

/** The score of a row of logits: the logit (1 label) or logit[1] − logit[0] (2). */
export const scoreOfLogits = (logits: readonly number[]): number => (logits.length === 1 ? logits[0] : logits[1] - logits[0]);

/** Probability of relevance of a score: sigmoid (softmax's label-1 probability for 2 labels). */
export const relevanceProbability = (score: number): number => 1 / (1 + Math.exp(-score));

/**
 * Loads a cross-encoder from a HF `*ForSequenceClassification` dir.
 * @example
 * const ce = await loadCrossEncoder('models/ms-marco-MiniLM-L-6-v2');
 * const [s] = await ce.score([{ question: 'who won?', title: 'Super Bowl 50', text: 'The Broncos won.' }]);
 * ce.dispose();
 */
export async function loadCrossEncoder(dir: string, opts: CrossEncoderOptions = {}): Promise<CrossEncoder> {
  const log = opts.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new InputError(dir, undefined, undefined, 'not a model dir: no config.json');
  const config = await readEncoderConfig(configFile);
  const layers = HEADS[config.model_type];
  if (!layers) throw new UsageError(`${configFile}: model_type ${config.model_type} has no sequence-classification head in dprep; cross-encoders are ${Object.keys(HEADS).join(', ')}`);
  const numLabels = numLabelsOf(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
  const weights = await readWeights(dir, { requireFinite: true });
  const { tensors } = readFamilyTensors(config, weights.tensors, weights.source);
  const head = readHead(layers, weights.tensors, weights.source, config.hidden_size, numLabels);
  const maxLength = Math.min(opts.maxLength ?? 256, maxSequenceLength(config));
  const tokenizer = await loadTokenizer(dir, maxLength);
  for (const warning of checkTokenizerConfig(tokenizer, config, configFile)) log(`warning: ${warning}`);
  const { tf } = await loadTf(opts.backend ?? 'auto');
  const model = createEncoderModel(tf, config, tensors, `cross-encoder-${dir}`);
  const H = config.hidden_size;
  const batchSize = opts.batchSize ?? 32;

  async function scoreBatch(batch: TokenBatch): Promise<{ logits: number[][]; scores: number[] }> {
    const first = tf.tidy(() => tf.reshape(tf.slice(model.forward(batch), [0, 0, 0], [batch.batch, 1, H]), [batch.batch, H]) as Tensor2D); // [B, H]
    const data = (await first.data()) as Float32Array;
    first.dispose();
    const logits = Array.from({ length: batch.batch }, (_, b) => applyHead(head, data.subarray(b * H, (b + 1) * H))); // [B, numLabels]
    return { logits, scores: logits.map(scoreOfLogits) };
  }

  return {
    modelType: config.model_type,
    numLabels,
    maxLength,
    scoreBatch,
    async score(pairs) {
      const out = new Float64Array(pairs.length);
      for (let start = 0; start < pairs.length; start += batchSize) {
        // The pair: question first, then the passage as one segment (title, then text).
        const inputs = pairs.slice(start, start + batchSize).map((p) => ({ title: p.question, text: p.title ? `${p.title} ${p.text}` : p.text }));
        const { scores } = await scoreBatch(padBatch(await tokenizer.encode(inputs), tokenizer.padId));
        out.set(scores, start);
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
}
