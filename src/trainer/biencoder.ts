/**
 * The bi-encoder: a query and a passage encoder of any family (or one shared), the DPR loss over a batch, and its
 * gradients. With gradient accumulation the batch is split into micro-batches the GradCache way:
 * embed every micro-batch without a tape, take the loss over the whole batch and its gradient
 * w.r.t. the embeddings, then re-run each micro-batch with a tape and back-propagate those
 * embedding gradients. The result equals one pass over the whole batch (same in-batch negatives),
 * while only one micro-batch's activations are alive at a time.
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import type { EncoderModel, Pooling } from './model-base.ts';
import type { EncoderConfig } from './config.ts';
import { createEncoderModel } from './families.ts';
import type { NamedTensor } from './safetensors.ts';
import { padBatch, type TextTokenizer, type TokenBatch } from './tokenizer.ts';
import { dprLoss, dprLossAndEmbeddingGrads } from './loss.ts';
import type { BiEncoderBatch } from './data.ts';
import { deriveSeed } from '../util/random.ts';
import type { EmbeddingExchange } from './exchange.ts';

let instances = 0;

export interface BiEncoderOptions {
  pooling: Pooling;
  normalize: boolean;
  shared: boolean;
}

/** What the loss needs of a batch besides its embeddings. */
export type LossTarget = Pick<BiEncoderBatch, 'positiveIndex' | 'masked'>;

export interface MicroBatch {
  q: TokenBatch;
  p: TokenBatch;
}

export class BiEncoder {
  readonly query: EncoderModel;
  readonly passage: EncoderModel;
  /** Trainable params by key (`query/<hf name>`, `passage/<hf name>`, or `shared/…`). */
  readonly variables = new Map<string, Variable>();
  private readonly keyOfVariable = new Map<string, string>();

  constructor(
    private readonly tf: TF,
    config: { query: EncoderConfig; passage: EncoderConfig },
    tensors: { query: Map<string, NamedTensor>; passage: Map<string, NamedTensor> },
    readonly tokenizers: { query: TextTokenizer; passage: TextTokenizer },
    readonly opts: BiEncoderOptions,
  ) {
    const id = ++instances;
    // Each side's family comes from its config (model_type); the two sides must embed to one size.
    this.query = createEncoderModel(tf, config.query, tensors.query, `${opts.shared ? 'shared' : 'query'}#${id}`);
    this.passage = opts.shared ? this.query : createEncoderModel(tf, config.passage, tensors.passage, `passage#${id}`);
    if (this.query.dim !== this.passage.dim) {
      this.dispose();
      throw new Error(`query encoder embeds to ${this.query.dim} dimensions, passage encoder to ${this.passage.dim}: the DPR score needs one size`);
    }
    for (const [role, model] of opts.shared ? ([['shared', this.query]] as const) : ([['query', this.query], ['passage', this.passage]] as const)) {
      for (const [name, v] of model.params) {
        if (name.startsWith('pooler.')) continue;
        this.variables.set(`${role}/${name}`, v);
        this.keyOfVariable.set(v.name, `${role}/${name}`);
      }
    }
  }

  /** Micro-batches of at most `micro` questions (with their passages) of questions [qStart, qEnd). */
  async tokenize(batch: BiEncoderBatch, micro: number, qStart = 0, qEnd = batch.questions.length): Promise<MicroBatch[]> {
    const perQ = Math.max(1, micro);
    const out: MicroBatch[] = [];
    for (let s = qStart; s < qEnd; s += perQ) {
      const e = Math.min(s + perQ, qEnd);
      const pStart = batch.positiveIndex[s];
      const pEnd = e < batch.questions.length ? batch.positiveIndex[e] : batch.passages.length;
      out.push({
        q: padBatch(await this.tokenizers.query.encode(batch.questions.slice(s, e)), this.tokenizers.query.padId),
        p: padBatch(await this.tokenizers.passage.encode(batch.passages.slice(pStart, pEnd)), this.tokenizers.passage.padId),
      });
    }
    return out;
  }

  embedSide(role: 'query' | 'passage', mb: MicroBatch, training: boolean, seed: number): Tensor2D {
    const { pooling, normalize } = this.opts;
    const model = role === 'query' ? this.query : this.passage;
    return model.embed(role === 'query' ? mb.q : mb.p, pooling, normalize, { training, dropoutSeed: deriveSeed(seed, role === 'query' ? 'q' : 'p') });
  }

  private embedBoth(mb: MicroBatch, training: boolean, seed: number): [Tensor2D, Tensor2D] {
    return [this.embedSide('query', mb, training, seed), this.embedSide('passage', mb, training, seed)];
  }

  /** The variables one side's encoder uses (all of them with a shared encoder). */
  sideVariables(role: 'query' | 'passage'): Variable[] {
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
    const accumulate = (named: Record<string, Tensor>) => this.collect(named, grads);
    if (mbs.length === 1) {
      const { value, grads: g } = tf.variableGrads(() => {
        const [q, p] = this.embedBoth(mbs[0], true, deriveSeed(seed, 0));
        return dprLoss(tf, q, p, batch.positiveIndex, batch.masked);
      }, vars);
      const loss = (await value.data())[0];
      value.dispose();
      await accumulate(g);
      return { loss, grads };
    }
    // Pass 1: embeddings of every micro-batch, no tape; the loss and its gradient w.r.t. them.
    const seeds = mbs.map((_, i) => deriveSeed(seed, i));
    const { q, p } = await this.embedMicroBatches(mbs, seeds);
    const { loss, dq, dp } = await dprLossAndEmbeddingGrads(tf, q, p, this.query.dim, batch.positiveIndex, batch.masked);
    // Pass 2: back-propagate those gradients through each micro-batch (d loss / d θ = Σ dL/de · de/dθ).
    return { loss, grads: await this.backpropMicroBatches(mbs, seeds, dq, dp) };
  }

  /**
   * Adds tfjs gradients (by variable name) into arrays by param key, disposing them. A key's first
   * gradient is copied into `sink`'s array for that key when there is one (preallocated, e.g.
   * shared memory), else into a new array.
   */
  private async collect(named: Record<string, Tensor>, into: Map<string, Float32Array>, sink?: Map<string, Float32Array>): Promise<void> {
    const wasm = this.tf.getBackend() === 'wasm' ? (this.tf.backend() as unknown as { typedArrayFromHeap(t: Tensor): Float32Array }) : undefined;
    for (const [vname, g] of Object.entries(named)) {
      const key = this.keyOfVariable.get(vname);
      if (!key) continue;
      // wasm: read in place from its heap; other backends' data() may be the tensor's own array.
      const data = wasm ? wasm.typedArrayFromHeap(g) : ((await g.data()) as Float32Array);
      const acc = into.get(key);
      const target = sink?.get(key);
      if (acc) for (let i = 0; i < acc.length; i++) acc[i] += data[i];
      else if (target) {
        if (target.length !== data.length) throw new Error(`gradient of ${key}: ${data.length} values for an array of ${target.length}`);
        target.set(data);
        into.set(key, target);
      } else into.set(key, Float32Array.from(data));
      g.dispose();
    }
  }

  /**
   * Data-parallel step of one replica whose shard is a single micro-batch: the shard is embedded on
   * the tape, its vectors are published to the other replicas through `exchange`, their vectors are
   * read back (as constants), and the loss over the whole batch is back-propagated into this shard's
   * encoder pass. Summing the replicas' gradients gives the whole batch's gradient without a second
   * forward pass (GradCache needs one).
   * `at` is where this shard's questions and passages start in the batch; `target` is the whole
   * batch's positives and masked pairs.
   */
  async exchangeLossAndGrads(
    mb: MicroBatch,
    target: LossTarget,
    at: { q0: number; p0: number },
    exchange: EmbeddingExchange,
    seed: number,
    sink?: Map<string, Float32Array>,
  ): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const { tf } = this;
    const { positiveIndex, masked } = target;
    const B = positiveIndex.length;
    const H = exchange.dim;
    const P = exchange.rows - B;
    const { value, grads: g } = tf.variableGrads(() => {
      const [q, p] = this.embedBoth(mb, true, seed); // [b, H], [p, H]: this shard's rows
      exchange.publish(at.q0, q.dataSync() as Float32Array);
      exchange.publish(B + at.p0, p.dataSync() as Float32Array);
      exchange.arriveAndWait();
      // The whole batch: other shards' rows as constants around this shard's taped rows.
      const around = (own: Tensor2D, start: number, rows: number, offset: number): Tensor2D => {
        const parts: Tensor2D[] = [];
        if (start > 0) parts.push(tf.tensor2d(exchange.rowsOf(offset, start), [start, H])); // [start, H]
        parts.push(own);
        const end = start + own.shape[0];
        if (end < rows) parts.push(tf.tensor2d(exchange.rowsOf(offset + end, rows - end), [rows - end, H])); // [rows - end, H]
        return parts.length === 1 ? own : (tf.concat(parts) as Tensor2D); // [rows, H]
      };
      return dprLoss(tf, around(q, at.q0, B, 0), around(p, at.p0, P, B), positiveIndex, masked); // [B, H] · [P, H]ᵀ → scalar
    }, [...this.variables.values()]);
    const loss = (await value.data())[0];
    value.dispose();
    const grads = new Map<string, Float32Array>();
    await this.collect(g, grads, sink);
    return { loss, grads };
  }

  /** GradCache pass 1: embeddings of the micro-batches without a tape, rows concatenated. */
  async embedMicroBatches(mbs: readonly MicroBatch[], seeds: readonly number[]): Promise<{ q: Float32Array; p: Float32Array }> {
    const parts = mbs.map((mb, i) => this.tf.tidy(() => this.embedBoth(mb, true, seeds[i]))); // [b_i, H], [p_i, H] each
    const q = this.tf.concat(parts.map((r) => r[0])); // [Σ b_i, H]
    const p = this.tf.concat(parts.map((r) => r[1])); // [Σ p_i, H]
    const out = { q: Float32Array.from((await q.data()) as Float32Array), p: Float32Array.from((await p.data()) as Float32Array) };
    this.tf.dispose([q, p, ...parts.flat()]);
    return out;
  }

  /**
   * GradCache pass 2: back-propagates embedding gradients (rows as in pass 1) through each
   * micro-batch. One side at a time keeps only one encoder's activations and gradients alive: what
   * lets BERT-base fit the 4 GB wasm heap.
   */
  async backpropMicroBatches(mbs: readonly MicroBatch[], seeds: readonly number[], dq: Float32Array, dp: Float32Array, sink?: Map<string, Float32Array>): Promise<Map<string, Float32Array>> {
    const { tf } = this;
    const H = this.query.dim;
    const grads = new Map<string, Float32Array>();
    let qRow = 0;
    let pRow = 0;
    for (let i = 0; i < mbs.length; i++) {
      const { q, p } = mbs[i];
      const sides = [
        { role: 'query' as const, rows: q.batch, start: qRow, d: dq },
        { role: 'passage' as const, rows: p.batch, start: pRow, d: dp },
      ];
      for (const side of sides) {
        const grad = tf.tensor2d(side.d.subarray(side.start * H, (side.start + side.rows) * H), [side.rows, H]); // [rows, H]
        const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(this.embedSide(side.role, mbs[i], true, seeds[i]), grad)), this.sideVariables(side.role));
        value.dispose();
        grad.dispose();
        await this.collect(g, grads, sink);
      }
      qRow += q.batch;
      pRow += p.batch;
    }
    return grads;
  }

  /** Embeddings `[n, H]` of inputs in eval mode, `chunk` at a time, as one Float32Array. */
  async embedAll(role: 'query' | 'passage', inputs: readonly import('../types.ts').EncodeInput[], chunk: number): Promise<Float32Array> {
    const model = role === 'query' ? this.query : this.passage;
    const tok = this.tokenizers[role];
    const H = model.dim;
    const out = new Float32Array(inputs.length * H);
    for (let s = 0; s < inputs.length; s += chunk) {
      const tb = padBatch(await tok.encode(inputs.slice(s, s + chunk)), tok.padId);
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
