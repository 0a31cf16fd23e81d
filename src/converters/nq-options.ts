/**
 * The types and option declarations NQ's converters share (nq.ts dispatches, nq-simplified.ts
 * converts one form): a leaf module, so neither converter imports the other for a type.
 */
import type { OptionsSpec } from '../options.ts';
import type { DprRecord, Passage } from '../types.ts';
import type { Summary } from '../util/summary.ts';
import type { convertOptions, LibraryOptions } from './common.ts';

export const NQ_INPUT_FORMATS = ['dpr', 'dpr-qa', 'nq-open', 'nq-simplified'] as const;
export type NqInputFormat = (typeof NQ_INPUT_FORMATS)[number];

/** The source options of `dprep convert nq`, declared once (the command adds the shared output options). */
export const nqOptions = {
  input: { type: 'string', required: true, role: 'input', help: 'NQ file: .json DPR array, .qa.csv, NQ-open .jsonl or simplified .jsonl.gz' },
  inputFormat: { type: 'string', choices: NQ_INPUT_FORMATS, help: 'input format, instead of detecting it' },
  allowNoAnswers: { type: 'boolean', help: 'keep questions without answers (NQ-open .no-annotations, empty qa lists) with answers: []' },
} as const satisfies OptionsSpec;

/**
 * The NQ converters' options: `allowNoAnswers`, `dataset` (default: the record's own for `dpr`,
 * else the source name) and `passageWords` (for `nq-simplified` long answers) as the command
 * declares them, plus progress reporting.
 */
export type NqOptions = LibraryOptions<Pick<typeof nqOptions, 'allowNoAnswers'> & Pick<typeof convertOptions, 'dataset' | 'passageWords'>> & {
  /** Compressed bytes read so far, for progress against the file size. */
  onRawBytes?: (n: number) => void;
};

/** Where converted records (and, when collected, their passages) go; the command writes them out. */
export interface NqSink {
  summary: Summary;
  write(record: DprRecord): Promise<void>;
  /** Called with each passage of a written record (`dpr`: every ctx; `nq-simplified`: positives). */
  passage?(passage: Passage): Promise<void>;
}
