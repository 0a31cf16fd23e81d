/**
 * Training examples from DPR records, and DPR-style batches: per question its positive (first or
 * sampled), then its first N hard negatives; the loss sees every passage of the batch.
 */
import type { Ctx, DprRecord } from '../types.ts';
import type { EncodeInput } from '../types.ts';
import { readDprRecords } from '../io/records.ts';
import { Summary } from '../util/summary.ts';
import { deriveSeed, seededRandom } from '../util/random.ts';

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
export async function readExamples(file: string, hardNegatives: number, limit = Infinity): Promise<{ examples: BiEncoderExample[]; summary: Summary }> {
  const summary = new Summary('train', [file]);
  const examples: BiEncoderExample[] = [];
  for await (const { record, where } of readDprRecords(file)) {
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
}

/**
 * Lays out a batch: [pos_0, negs_0…, pos_1, negs_1…]. With `sampled`, the positive is drawn with a
 * generator derived from (seed, epoch, example id), so it does not depend on batch composition.
 */
export function makeBatch(
  examples: readonly BiEncoderExample[],
  ids: readonly number[],
  opts: { positives: PositiveChoice; embedTitle: boolean; seed: number; epoch: number },
): BiEncoderBatch {
  const batch: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
  const asInput = (c: Ctx): EncodeInput => (opts.embedTitle ? { title: c.title, text: c.text } : { text: c.text });
  for (const id of ids) {
    const ex = examples[id];
    const pick = opts.positives === 'first' ? 0 : Math.floor(seededRandom(deriveSeed(opts.seed, 'positive', opts.epoch, id))() * ex.positives.length);
    batch.questions.push({ text: ex.question });
    batch.positiveIndex.push(batch.passages.length);
    batch.passages.push(asInput(ex.positives[pick]));
    for (const neg of ex.hardNegatives) batch.passages.push(asInput(neg));
  }
  return batch;
}
