/**
 * `dprep convert msmarco`: MS MARCO passage ranking (collection, queries, qrels, optional
 * negatives) → DPR records + corpus. The converter is src/converters/msmarco.ts.
 */
import { defineCommand } from '../options.ts';
import { convertOptions } from '../converters/common.ts';
import { msmarcoOptions } from '../converters/msmarco.ts';

export const convertMsmarcoCommand = defineCommand({
  id: 'convert.msmarco',
  summary: 'MS MARCO passage (collection, queries, qrels, negatives) → DPR records + corpus',
  description: `
Inputs: --collection collection.tsv (pid<TAB>passage, split at the first tab: MS MARCO text is not
CSV-quoted; gzip ok; 3 columns by a header row or --columns, e.g. OpenMatch/RocketQA's id,title,text; a
.jsonl/.parquet corpus such as BEIR's corpus.jsonl also works), --queries (qid<TAB>query, CRLF ok, or
BEIR's queries.jsonl {"_id", "text"}), --qrels (TREC "qid 0 pid rel" / "qid Q0 pid rel" or
"qid pid rel", tabs or spaces, header optional as in BEIR's qrels/test.tsv; rel > 0 is a positive), --negatives (optional: "qid<TAB>pid,pid,..." or the
qidpidtriples layout "qid<TAB>pos<TAB>neg", whose pos column is ignored).
Output: one record per query that has a positive passage in the collection, in queries order; id = qid,
answers [] (MS MARCO passage has no answer strings: the miners then exclude positives by id instead of by
answer match), positive_ctxs from qrels, the file's negatives (first --negatives-per-query, without
positives or repeats) as hard_negative_ctxs or negative_ctxs (--official-negatives). The corpus (--corpus)
is the whole collection (titles as the collection has them, else empty). --passage-words is not used: MS MARCO passages are kept whole.
Skipped and counted: queries with no relevant qrels, no positive in the collection, empty or duplicate.
Counted: qrels of unknown queries, positives / negatives whose pid is not in the collection.
Memory: qrels and negatives are read first; the collection (8.8M passages) is then streamed once, keeping
only the texts of passages a record uses.
Example:  dprep convert msmarco --collection collection.tsv --queries queries.train.tsv \\
            --qrels qrels.train.tsv --negatives train.negatives.tsv --out marco.dpr.jsonl --corpus marco.corpus.parquet`,
  options: {
    ...msmarcoOptions,
    ...convertOptions,
  },
  async run(opts, context) {
    const { openConvertOutputs } = await import('../converters/common.ts');
    const { convertMsmarco } = await import('../converters/msmarco.ts');
    const outputs = await openConvertOutputs(opts);
    try {
      const corpus = outputs.corpus;
      const summary = await convertMsmarco(
        { ...opts, officialNegatives: opts.officialNegatives },
        { passage: corpus && ((p) => corpus.write(p)), record: (r) => outputs.records.write(r) },
      );
      await outputs.commit();
      context.log(summary.render());
      await summary.write(opts.out);
      return { metrics: { read: summary.read, converted: summary.converted, skipped: summary.skippedTotal } };
    } catch (err) {
      await outputs.abort();
      throw err;
    }
  },
});
