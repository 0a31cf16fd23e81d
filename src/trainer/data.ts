/**
 * Training examples from DPR records, and DPR-style batches: per question its positive (first or
 * sampled), then its first N hard negatives; the loss sees every passage of the batch.
 *
 * In-batch false negatives: a passage of the batch that is one of question i's positives (any of
 * the record's positive_ctxs, not only the one in the batch) but sits in another column — another
 * question's positive or any hard negative — is masked out of i's softmax (`masked`). "Is one of
 * its positives" means the same non-empty passage_id, or the same text under the miners'
 * normalizeForDedup (text/same-passage.ts: NFC, lowercased, whitespace collapsed): one definition of "the same
 * passage" for mining and training. Titles are not compared (chunks of one article share them).
 * The `no-duplicates` batch sampler (sentence-transformers' NoDuplicatesBatchSampler idea) also
 * builds batches without such collisions where the data allows.
 */
import type { Ctx, DprRecord } from '../types.ts';
import type { EncodeInput } from '../types.ts';
import { readDprRecords } from '../io/records.ts';
import { Summary } from '../util/summary.ts';
import { deriveSeed, seededRandom, shuffleInPlace } from '../util/random.ts';
import { normalizeForDedup } from '../text/same-passage.ts';
import { BadRecords } from '../util/bad-records.ts';

/** What training keeps of a record: only the passages it can use. */
export interface BiEncoderExample {
  question: string;
  positives: Ctx[];
  hardNegatives: Ctx[];
}

export type PositiveChoice = 'first' | 'sampled';

/**
 * Reads DPR records into examples; records without positives or question are skipped and counted.
 * Keeps at most `hardNegatives` hard negatives per record (the miner's top ones).
 * @example const { examples, summary } = await readExamples('train.json', 1);
 */
export async function readExamples(file: string, hardNegatives: number, limit = Infinity, skipBad = false): Promise<{ examples: BiEncoderExample[]; summary: Summary }> {
  const summary = new Summary('train', [file]);
  const examples: BiEncoderExample[] = [];
  // --skip-bad: a bad record is counted in the summary (its reason starts "bad record:").
  const bad = new BadRecords(skipBad, summary);
  for await (const { record, where } of readDprRecords(file, { onBad: bad.onBad })) {
    if (examples.length >= limit) break;
    summary.read++;
    const example = toExample(record, hardNegatives);
    if (typeof example === 'string') summary.skip(example, where);
    else {
      examples.push(example);
      summary.converted++;
    }
  }
  return { examples, summary };
}

/** The example of a record, or the reason it cannot train. */
export function toExample(record: DprRecord, hardNegatives: number): BiEncoderExample | string {
  if (record.question.trim() === '') return 'empty question';
  if (record.positive_ctxs.length === 0) return 'no positive_ctxs';
  const slim = (c: Ctx): Ctx => ({ title: c.title, text: c.text, passage_id: c.passage_id });
  return {
    question: record.question,
    positives: record.positive_ctxs.map(slim),
    hardNegatives: record.hard_negative_ctxs.slice(0, hardNegatives).map(slim),
  };
}

export interface BiEncoderBatch {
  questions: EncodeInput[];
  passages: EncodeInput[];
  /** Row of `passages` holding question i's positive. */
  positiveIndex: number[];
  /** Flat indices `i * passages.length + j` of the pairs masked out of the loss (false negatives), ascending. */
  masked?: number[];
}

/** How a passage is recognised as "the same passage": by id (when it has one) and by normalized text. */
const passageKeys = (c: Ctx): string[] => (c.passage_id ? ['id:' + c.passage_id, 'text:' + normalizeForDedup(c.text)] : ['text:' + normalizeForDedup(c.text)]);

/**
 * The false-negative pairs of a batch: for question i (example `owners[i]`), every column j other
 * than its own positive whose passage is one of that example's positives. Flat indices `i * P + j`.
 * @example falseNegativePairs(examples, [3, 7], columns, [0, 2]) // [2] when 7's positive is one of 3's
 */
export function falseNegativePairs(examples: readonly BiEncoderExample[], ids: readonly number[], columns: readonly Ctx[], positiveIndex: readonly number[]): number[] {
  const P = columns.length;
  const columnKeys = columns.map(passageKeys);
  const masked: number[] = [];
  ids.forEach((id, i) => {
    const own = new Set(examples[id].positives.flatMap(passageKeys));
    for (let j = 0; j < P; j++) if (j !== positiveIndex[i] && columnKeys[j].some((k) => own.has(k))) masked.push(i * P + j);
  });
  return masked;
}

/** Batch samplers: a plain seeded shuffle, or one that keeps questions sharing a positive apart. */
export const BATCH_SAMPLERS = ['shuffle', 'no-duplicates'] as const;
export type BatchSampler = (typeof BATCH_SAMPLERS)[number];

/**
 * The epoch's order of example ids; batch k is `order[k·batch, (k+1)·batch)`. Both samplers start
 * from the same seeded shuffle (seed, 'shuffle', epoch), so `shuffle` is exactly the old order.
 * `no-duplicates` then fills each batch greedily in that order with examples that make no false
 * negative with the batch so far (none of their positives is a passage of the batch, none of their
 * hard negatives a positive of it; by id or normalized text); an example that collides waits for
 * a later batch (sentence-transformers' sampler likewise checks every text of a row). Every example is used once per epoch and every batch but the last stays full: when all
 * the examples left collide with a batch (too few distinct passages), they fill it in shuffled
 * order anyway and the loss mask covers the collision.
 * @example const order = epochOrder(examples, { seed: 1, epoch: 0, batch: 16, sampler: 'no-duplicates' });
 */
export function epochOrder(examples: readonly BiEncoderExample[], o: { seed: number; epoch: number; batch: number; sampler: BatchSampler }): number[] {
  const shuffled = shuffleInPlace(
    examples.map((_, i) => i),
    seededRandom(deriveSeed(o.seed, 'shuffle', o.epoch)),
  );
  if (o.sampler === 'shuffle') return shuffled;
  const keysOf = (cs: readonly Ctx[]) => [...new Set(cs.flatMap(passageKeys))];
  const pos = examples.map((ex) => keysOf(ex.positives));
  const neg = examples.map((ex) => keysOf(ex.hardNegatives));
  const n = shuffled.length;
  const used = new Uint8Array(n);
  const order: number[] = [];
  let head = 0; // first position of `shuffled` not yet used
  while (order.length < n) {
    const size = Math.min(o.batch, n - order.length);
    const batchPos = new Set<string>();
    const batchAll = new Set<string>(); // the batch's positives and hard negatives
    const take = (id: number) => {
      for (const k of pos[id]) batchPos.add(k), batchAll.add(k);
      for (const k of neg[id]) batchAll.add(k);
      used[id] = 1;
      order.push(id);
    };
    // A collision either way: its positive is already a passage of the batch, or its hard negative is a batch positive.
    const collides = (id: number) => pos[id].some((k) => batchAll.has(k)) || neg[id].some((k) => batchPos.has(k));
    const start = order.length;
    for (let at = head; at < n && order.length - start < size; at++) {
      const id = shuffled[at];
      if (!used[id] && !collides(id)) take(id);
    }
    for (let at = head; at < n && order.length - start < size; at++) if (!used[shuffled[at]]) take(shuffled[at]);
    while (head < n && used[shuffled[head]]) head++;
  }
  return order;
}

/**
 * Lays out a batch: [pos_0, negs_0…, pos_1, negs_1…]. With `sampled`, the positive is drawn with a
 * generator derived from (seed, epoch, example id), so it does not depend on batch composition.
 * With `maskFalseNegatives`, `masked` lists the batch's false-negative pairs.
 */
export function makeBatch(
  examples: readonly BiEncoderExample[],
  ids: readonly number[],
  opts: { positives: PositiveChoice; embedTitle: boolean; seed: number; epoch: number; maskFalseNegatives?: boolean },
): BiEncoderBatch {
  const batch: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
  const columns: Ctx[] = [];
  const asInput = (c: Ctx): EncodeInput => (opts.embedTitle ? { title: c.title, text: c.text } : { text: c.text });
  for (const id of ids) {
    const ex = examples[id];
    const pick = opts.positives === 'first' ? 0 : Math.floor(seededRandom(deriveSeed(opts.seed, 'positive', opts.epoch, id))() * ex.positives.length);
    batch.questions.push({ text: ex.question });
    batch.positiveIndex.push(columns.length);
    columns.push(ex.positives[pick], ...ex.hardNegatives);
  }
  batch.passages = columns.map(asInput);
  if (opts.maskFalseNegatives) batch.masked = falseNegativePairs(examples, ids, columns, batch.positiveIndex);
  return batch;
}
