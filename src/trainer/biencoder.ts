/**
 * The bi-encoder: a query and a passage BERT (or one shared), the DPR loss over a batch, and its
 * gradients. With gradient accumulation the batch is split into micro-batches the GradCache way:
 * embed every micro-batch without a tape, take the loss over the whole batch and its gradient
 * w.r.t. the embeddings, then re-run each micro-batch with a tape and back-propagate those
 * embedding gradients. The result equals one pass over the whole batch (same in-batch negatives),
 * while only one micro-batch's activations are alive at a time.
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import { BertModel, type Pooling } from './bert.ts';
import type { BertConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import { padBatch, type TextTokenizer, type TokenBatch } from './tokenizer.ts';
import { dprLoss } from './loss.ts';
import type { BiEncoderBatch } from './data.ts';
import { deriveSeed } from '../util/random.ts';

let instances = 0;

export interface BiEncoderOptions {
  pooling: Pooling;
  normalize: boolean;
  shared: boolean;
}

interface MicroBatch {
  q: TokenBatch;
  p: TokenBatch;
}

export class BiEncoder {
  readonly query: BertModel;
  readonly passage: BertModel;
  /** Trainable params by key (`query/<hf name>`, `passage/<hf name>`, or `shared/…`). */
  readonly variables = new Map<string, Variable>();
  private readonly keyOfVariable = new Map<string, string>();

  constructor(
    private readonly tf: TF,
    config: { query: BertConfig; passage: BertConfig },
    tensors: { query: Map<string, NamedTensor>; passage: Map<string, NamedTensor> },
    readonly tokenizers: { query: TextTokenizer; passage: TextTokenizer },
    readonly opts: BiEncoderOptions,
  ) {
    const id = ++instances;
    this.query = new BertModel(tf, config.query, tensors.query, `${opts.shared ? 'shared' : 'query'}#${id}`);
    this.passage = opts.shared ? this.query : new BertModel(tf, config.passage, tensors.passage, `passage#${id}`);
    for (const [role, model] of opts.shared ? ([['shared', this.query]] as const) : ([['query', this.query], ['passage', this.passage]] as const)) {
      for (const [name, v] of model.params) {
        if (name.startsWith('pooler.')) continue;
        this.variables.set(`${role}/${name}`, v);
        this.keyOfVariable.set(v.name, `${role}/${name}`);
      }
    }
  }

  async tokenize(batch: BiEncoderBatch, micro: number): Promise<MicroBatch[]> {
    const perQ = Math.max(1, micro);
    const out: MicroBatch[] = [];
    for (let s = 0; s < batch.questions.length; s += perQ) {
      const e = Math.min(s + perQ, batch.questions.length);
      const pStart = batch.positiveIndex[s];
      const pEnd = e < batch.questions.length ? batch.positiveIndex[e] : batch.passages.length;
      out.push({
        q: padBatch(await this.tokenizers.query.encode(batch.questions.slice(s, e))),
        p: padBatch(await this.tokenizers.passage.encode(batch.passages.slice(pStart, pEnd))),
      });
    }
    return out;
  }

  private embedSide(role: 'query' | 'passage', mb: MicroBatch, training: boolean, seed: number): Tensor2D {
    const { pooling, normalize } = this.opts;
    const model = role === 'query' ? this.query : this.passage;
    return model.embed(role === 'query' ? mb.q : mb.p, pooling, normalize, { training, dropoutSeed: deriveSeed(seed, role === 'query' ? 'q' : 'p') });
  }

  private embedBoth(mb: MicroBatch, training: boolean, seed: number): [Tensor2D, Tensor2D] {
    return [this.embedSide('query', mb, training, seed), this.embedSide('passage', mb, training, seed)];
  }

  /** The variables one side's encoder uses (all of them with a shared encoder). */
  private sideVariables(role: 'query' | 'passage'): Variable[] {
    const model = role === 'query' ? this.query : this.passage;
    return model.trainable();
  }

  /**
   * Loss and gradients (JS arrays by param key) of one batch split in micro-batches of `micro` questions.
   * `seed` fixes dropout masks (the same in both GradCache passes).
   */
  async lossAndGrads(batch: BiEncoderBatch, micro: number, seed: number): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const { tf } = this;
    const mbs = await this.tokenize(batch, micro);
    const vars = [...this.variables.values()];
    const grads = new Map<string, Float32Array>();
    const accumulate = async (named: Record<string, Tensor>) => {
      for (const [vname, g] of Object.entries(named)) {
        const key = this.keyOfVariable.get(vname);
        if (!key) continue;
        const data = (await g.data()) as Float32Array;
        const acc = grads.get(key);
        if (!acc) grads.set(key, Float32Array.from(data));
        else for (let i = 0; i < acc.length; i++) acc[i] += data[i];
        g.dispose();
      }
    };
    if (mbs.length === 1) {
      const { value, grads: g } = tf.variableGrads(() => {
        const [q, p] = this.embedBoth(mbs[0], true, deriveSeed(seed, 0));
        return dprLoss(tf, q, p, batch.positiveIndex);
      }, vars);
      const loss = (await value.data())[0];
      value.dispose();
      await accumulate(g);
      return { loss, grads };
    }
    // Pass 1: embeddings of every micro-batch, no tape.
    const reps = mbs.map((mb, i) => tf.tidy(() => this.embedBoth(mb, true, deriveSeed(seed, i))));
    const qAll = tf.concat(reps.map((r) => r[0])) as Tensor2D; // [B, H]
    const pAll = tf.concat(reps.map((r) => r[1])) as Tensor2D; // [P, H]
    const { value, grads: repGrads } = tf.valueAndGrads((q: Tensor, p: Tensor) => dprLoss(tf, q as Tensor2D, p as Tensor2D, batch.positiveIndex))([qAll, pAll]);
    const loss = (await value.data())[0];
    const dqParts = tf.split(repGrads[0], mbs.map((mb) => mb.q.batch)); // [b_i, H] each
    const dpParts = tf.split(repGrads[1], mbs.map((mb) => mb.p.batch)); // [p_i, H] each
    tf.dispose([value, qAll, pAll, ...repGrads, ...reps.flat()]);
    // Pass 2: per micro-batch and side, back-propagate the embedding gradients
    // (d loss / d θ = Σ dL/de · de/dθ). One side at a time keeps only one encoder's activations
    // and gradients alive: what lets BERT-base fit the 4 GB wasm heap.
    const sides = [
      { vars: this.sideVariables('query'), embed: (i: number) => this.embedSide('query', mbs[i], true, deriveSeed(seed, i)), grad: dqParts },
      { vars: this.sideVariables('passage'), embed: (i: number) => this.embedSide('passage', mbs[i], true, deriveSeed(seed, i)), grad: dpParts },
    ];
    for (let i = 0; i < mbs.length; i++) {
      for (const side of sides) {
        const { value: surrogate, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(side.embed(i), side.grad[i])), side.vars);
        surrogate.dispose();
        await accumulate(g);
      }
    }
    tf.dispose([...dqParts, ...dpParts]);
    return { loss, grads };
  }

  /** Embeddings `[n, H]` of inputs in eval mode, `chunk` at a time, as one Float32Array. */
  async embedAll(role: 'query' | 'passage', inputs: readonly import('../types.ts').EncodeInput[], chunk: number): Promise<Float32Array> {
    const model = role === 'query' ? this.query : this.passage;
    const tok = this.tokenizers[role];
    const H = model.config.hidden_size;
    const out = new Float32Array(inputs.length * H);
    for (let s = 0; s < inputs.length; s += chunk) {
      const tb = padBatch(await tok.encode(inputs.slice(s, s + chunk)));
      const t = this.tf.tidy(() => model.embed(tb, this.opts.pooling, this.opts.normalize));
      out.set((await t.data()) as Float32Array, s * H);
      t.dispose();
    }
    return out;
  }

  /** Copies JS master weights into the tfjs variables (after an optimizer step). */
  assign(params: Map<string, Float32Array>): void {
    for (const [key, data] of params) {
      const v = this.variables.get(key)!;
      const t = this.tf.tensor(data, v.shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  }

  /** JS copies of every trainable param, by key. */
  async masterWeights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [key, v] of this.variables) out.set(key, Float32Array.from((await v.data()) as Float32Array));
    return out;
  }

  dispose(): void {
    this.query.dispose();
    if (this.passage !== this.query) this.passage.dispose();
  }
}
