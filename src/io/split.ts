/**
 * A seeded split of DPR records into a kept part and a held-out part (by record, i.e. by
 * question): exactly round(n · fraction) records are held out, chosen by a seeded shuffle of the
 * record indices, and both parts keep the input order. Two streamed passes (count, then write),
 * so memory is one bit per record, not the records.
 */
import { readDprRecords, openRecordWriter, recordFormatFromPath, type RecordWriter } from './records.ts';
import { seededRandom, shuffleInPlace } from '../util/random.ts';

/**
 * The held-out record indices of a split of `n` records: round(n · fraction) of them, a seeded
 * uniform choice (Fisher–Yates over 0..n-1, the first ones taken), as a bit mask.
 * @example heldOutMask(10, 0.2, 7).filter(Boolean).length // 2
 */
export function heldOutMask(n: number, fraction: number, seed: number): Uint8Array {
  const order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), seededRandom(seed));
  const mask = new Uint8Array(n);
  const held = Math.round(n * fraction);
  for (let i = 0; i < held; i++) mask[order[i]] = 1;
  return mask;
}

export interface SplitOptions {
  examples: string;
  /** The kept (training) part. */
  out: string;
  /** The held-out part. */
  heldoutOut: string;
  fraction: number;
  seed: number;
  /** Record format of the outputs (default: from each extension). */
  format?: string;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Splits `examples` into `out` and `heldoutOut` (written atomically: on an error neither appears).
 * @example await splitRecords({ examples: 'squad.dpr.jsonl', out: 'train.jsonl', heldoutOut: 'test.jsonl', fraction: 0.2, seed: 1 })
 */
export async function splitRecords(o: SplitOptions): Promise<{ records: number; kept: number; heldOut: number }> {
  let n = 0;
  for await (const _ of readDprRecords(o.examples)) n++;
  const mask = heldOutMask(n, o.fraction, o.seed);
  const writers: RecordWriter[] = [];
  try {
    writers.push(await openRecordWriter(o.out, recordFormatFromPath(o.out, o.format)));
    writers.push(await openRecordWriter(o.heldoutOut, recordFormatFromPath(o.heldoutOut, o.format)));
    let i = 0;
    for await (const { record } of readDprRecords(o.examples)) {
      // The file changed between the passes: stop rather than split what was not counted.
      if (i >= n) throw new Error(`${o.examples} grew while it was being split (more than ${n} records on the second pass)`);
      await writers[mask[i]].write(record);
      i++;
      o.onProgress?.(i, n);
    }
    if (i !== n) throw new Error(`${o.examples} shrank while it was being split (${i} records on the second pass, ${n} on the first)`);
    for (const w of writers) await w.close();
    return { records: n, kept: writers[0].count, heldOut: writers[1].count };
  } catch (err) {
    for (const w of writers) await w.abort();
    throw err;
  }
}
