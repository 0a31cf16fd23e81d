/**
 * What every `dprep convert ...` command shares: the output options (declared once, spread into
 * each command's options) and opening the record + corpus writers so both are committed or
 * aborted together.
 *
 * @example
 * defineCommand({ id: 'convert.nq', options: { input: {...}, ...convertOptions }, run: ... })
 */
import type { OptionSpec, OptionsSpec, OptionValues } from '../options.ts';
import { CORPUS_FORMATS, corpusFormatFromPath, openCorpusWriter, type CorpusWriter } from '../io/corpus.ts';
import { RECORD_FORMATS, openRecordWriter, recordFormatFromPath, type RecordWriter } from '../io/records.ts';

/** Options every converter takes. `corpus` is optional: sources without passages (NQ-open) ignore it. */
export const convertOptions = {
  out: { type: 'string', required: true, role: 'output', sideFiles: ['.summary.json'], help: 'DPR records to write (.json DPR array, .jsonl, .parquet; or see --format)' },
  corpus: { type: 'string', role: 'output', help: 'corpus of passages to write (.jsonl, .tsv psgs_w100 layout, .parquet)' },
  format: { type: 'string', choices: RECORD_FORMATS, help: 'record format, instead of guessing from the --out extension' },
  corpusFormat: { type: 'string', choices: CORPUS_FORMATS, help: 'corpus format, instead of guessing from the --corpus extension' },
  passageWords: { type: 'integer', default: 100, min: 1, help: 'passage size in whitespace words, for sources that are chunked' },
  dataset: { type: 'string', help: 'value of the "dataset" field of each record (default: named after the source)' },
} as const satisfies Record<string, OptionSpec>;

/** The parsed values of `convertOptions`, as a converter's `run` receives them. */
export type ConvertOutputOptions = OptionValues<typeof convertOptions>;

type RequiredKeys<O extends OptionsSpec> = { [K in keyof O]: O[K]['required'] extends true ? K : never }[keyof O];

/**
 * A converter's library options, derived from the option declarations its command uses (one
 * source, no restated field list): required options stay required, the rest are optional and the
 * converter applies the declared default.
 * @example export type MsmarcoConvertOptions = LibraryOptions<typeof msmarcoOptions>;
 */
export type LibraryOptions<O extends OptionsSpec> = Partial<OptionValues<O>> & Pick<OptionValues<O>, RequiredKeys<O> & keyof OptionValues<O>>;

export interface ConvertOutputs {
  records: RecordWriter;
  /** Present when --corpus was given. */
  corpus?: CorpusWriter;
  /** Moves both files under their final names. */
  commit(): Promise<void>;
  /** Removes both temp files: a failed run leaves no half-written output. */
  abort(): Promise<void>;
}

/**
 * Checks the formats before any work, then opens both writers (atomic). `--passage-words` is
 * range-checked by its declaration (min 1) wherever options resolve.
 * @example
 * const outputs = await openConvertOutputs(opts);
 * try { ...; await outputs.commit(); } catch (e) { await outputs.abort(); throw e; }
 */
export async function openConvertOutputs(opts: ConvertOutputOptions): Promise<ConvertOutputs> {
  const recordFormat = recordFormatFromPath(opts.out, opts.format);
  const corpusFormat = opts.corpus ? corpusFormatFromPath(opts.corpus, opts.corpusFormat) : undefined;
  const records = await openRecordWriter(opts.out, recordFormat);
  let corpus: CorpusWriter | undefined;
  try {
    if (opts.corpus) corpus = await openCorpusWriter(opts.corpus, corpusFormat);
  } catch (err) {
    await records.abort();
    throw err;
  }
  return {
    records,
    corpus,
    async commit() {
      await records.close();
      await corpus?.close();
    },
    async abort() {
      await records.abort();
      await corpus?.abort();
    },
  };
}
