/** `dprep search bm25`: ranks the corpus for each query and writes a TREC run. */
import { defineCommand } from '../options.ts';
import { resolveThreads } from './_bm25-options.ts';

export const searchBm25Command = defineCommand({
  id: 'search.bm25',
  summary: 'Search a BM25 index for each query and write a TREC run file',
  description: `
Input: an index (dprep index bm25) and queries: JSON lines {id|_id|qid|query_id, text|query|question},
DPR records (.json, .jsonl, .parquet: the record id, else its 0-based position, as dprep eval numbers them),
or TSV "qid<TAB>query" (MS MARCO / anserini topics; .gz ok). Output: a TREC run, one line per hit:
"qid Q0 passage_id rank score dprep-bm25", best first (ties by corpus order), written atomically.
A query line without an id or text is an error naming the line. Queries with no known term get no lines.
Example:  dprep search bm25 --index squad.bm25 --queries questions.jsonl --k 100 --out run.trec`,
  options: {
    index: { type: 'string', required: true, role: 'input', help: 'BM25 index directory' },
    queries: { type: 'string', required: true, role: 'input', help: 'queries file (.jsonl or .tsv)' },
    out: { type: 'string', required: true, role: 'output', help: 'TREC run file to write' },
    k: { type: 'integer', default: 100, min: 1, help: 'hits per query' },
    tag: { type: 'string', default: 'dprep-bm25', help: 'run tag (last TREC column)' },
    threads: { type: 'integer', default: 0, min: 0, help: 'worker threads (0: one per core)' },
  },
  async run(opts, ctx) {
    const { searchBm25ToTrec } = await import('../search/bm25/run.ts');
    const stats = await searchBm25ToTrec({
      index: opts.index,
      queries: opts.queries,
      out: opts.out,
      k: opts.k,
      tag: opts.tag,
      threads: resolveThreads(opts.threads),
    });
    ctx.log(`search bm25: ${stats.queries} queries, ${stats.lines} run lines, ${stats.empty} queries without hits, ${stats.seconds.toFixed(1)}s → ${opts.out}`);
    return { metrics: { queries: stats.queries, lines: stats.lines, empty: stats.empty } };
  },
});
