/**
 * `dprep convert squad`: SQuAD v1.1 / v2.0 JSON → DPR records + a corpus of ~100-word passages.
 * The converter itself is src/converters/squad.ts; `dprep convert piaf` reuses this driver.
 */
import { defineCommand, type CommandResult, type RunContext } from '../options.ts';
import { convertOptions, type ConvertOutputOptions } from '../converters/common.ts';
import { unanswerableNegativesOption, type SquadSource } from '../converters/squad.ts';

export const squadOptions = {
  input: { type: 'string', required: true, role: 'input', help: 'SQuAD-format JSON file (train-v1.1.json, dev-v2.0.json, piaf-v1.1.json ...)' },
  ...convertOptions,
  unanswerableOut: {
    type: 'string',
    role: 'output',
    help: 'write v2 unanswerable questions here (answers [], no positives, SQuAD plausible answers under "plausible_answers" in .json/.jsonl) instead of skipping them',
  },
  ...unanswerableNegativesOption,
} as const;

export const squadDescription = `
Input: a SQuAD v1.1 / v2.0 JSON file ({"data":[{"title","paragraphs":[{"context","qas"}]}]}), read whole
(SQuAD-format files are tens of MB at most).
Passages: each context is split into passages of about --passage-words whitespace words, titled with the
article title ("_" shown as spaces), ids "<dataset>-<n>" in corpus order. Answer-aware chunking: a boundary
that would cut a gold answer span moves to the end of the span (the passage grows a little), so every
answer lies wholly in one passage and all questions of a paragraph share one set of passages.
Positives: the passage holding the answer span by character offset (answer_start), never by string search.
An answer whose text is not at answer_start is looked for within ±32 characters (counted as corrected), else
dropped. Answers dropped with a counted reason: empty text, answer_start missing / not an integer / outside
the context, duplicates (same text and start), and answers their passage does not contain by DPR's
has_answer (a span that is not whole tokens, e.g. "art" in "party"). A question with no answer left, an
empty question, a duplicate id (the later one) or a v2 is_impossible question is skipped and counted.
Wrong JSON types stop with an error naming the JSON path (data[3].paragraphs[1].qas[0].answers[0].answer_start).
Hard negatives (v2, --unanswerable-negatives N): up to N passages, in corpus order, of the same article's
paragraphs that hold an is_impossible question (on topic, judged not to answer them), never the question's
own positives nor a passage containing one of its answers (DPR has_answer); counted in the summary.
Output: records (--out; .json DPR array, .jsonl, .parquet, or --format tevatron), corpus (--corpus), and a
summary printed and written to <out>.summary.json.
Example:  dprep convert squad --input train-v1.1.json --out squad.dpr.json --corpus squad.corpus.jsonl`;

type SquadCommandOptions = ConvertOutputOptions & { input: string; unanswerableOut?: string; unanswerableNegatives: number };

/** The shared run of `convert squad` and `convert piaf`. */
export async function runSquadCommand(opts: SquadCommandOptions, context: RunContext, source: SquadSource): Promise<CommandResult> {
  const { openConvertOutputs } = await import('../converters/common.ts');
  const { convertSquad } = await import('../converters/squad.ts');
  const { openRecordWriter, recordFormatFromPath } = await import('../io/records.ts');
  const outputs = await openConvertOutputs(opts);
  const unanswerable = opts.unanswerableOut ? await openRecordWriter(opts.unanswerableOut, recordFormatFromPath(opts.unanswerableOut, opts.format)).catch(async (e) => { await outputs.abort(); throw e; }) : undefined;
  try {
    const summary = await convertSquad(opts.input, { passageWords: opts.passageWords, dataset: opts.dataset, source, unanswerableNegatives: opts.unanswerableNegatives }, {
      passage: async (p) => outputs.corpus?.write(p),
      record: (r) => outputs.records.write(r),
      unanswerable: unanswerable && ((r) => unanswerable.write(r)),
    });
    await outputs.commit();
    await unanswerable?.close();
    context.log(summary.render());
    await summary.write(opts.out);
    return {
      metrics: {
        read: summary.read,
        converted: summary.converted,
        skipped: summary.skippedTotal,
        passages: summary.extra.get('passages written') ?? 0,
        language: source === 'piaf' ? 'fr' : 'en',
      },
    };
  } catch (err) {
    await outputs.abort();
    await unanswerable?.abort();
    throw err;
  }
}

export const convertSquadCommand = defineCommand({
  id: 'convert.squad',
  summary: 'SQuAD v1.1/v2.0 JSON → DPR records + corpus of ~100-word passages (answer-aware chunking)',
  description: squadDescription,
  options: squadOptions,
  run: (opts, context) => runSquadCommand(opts, context, 'squad'),
});
