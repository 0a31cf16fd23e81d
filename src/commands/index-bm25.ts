/** `dprep index bm25`: builds a reusable on-disk BM25 index from a corpus. */
import { defineCommand } from '../options.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { BadRecords, SKIP_BAD_OPTION } from '../util/bad-records.ts';
import { analyzerFromOptions, analyzerOptions, resolveLanguage, resolveThreads } from './_bm25-options.ts';

export const indexBm25Command = defineCommand({
  id: 'index.bm25',
  summary: 'Build an on-disk BM25 index (postings with precomputed impacts + passage store) from a corpus',
  description: `
Input: a corpus (JSONL {passage_id|id|_id|docid, title?, text|contents}, DPR psgs_w100 TSV, MS MARCO
collection TSV, or Parquet). Output: a directory (header.json + binary postings, passage store,
id table) that "dprep mine bm25 --index" and "dprep search bm25" load. The title's terms are
indexed with the text's (DPR's BM25 setup) unless --no-title. Memory stays bounded: postings are
spilled in sorted runs of --segment-postings and merged. Passages are analyzed in --threads worker
threads (batches in corpus order), and the index files are byte-identical for any thread count. A duplicated passage_id or an empty
corpus is an error. The directory is replaced atomically. --lang auto (the default) reads the language
from the corpus's first passage id: "<dataset>-<n>" as the converters write it, so a corpus from
"convert piaf" (piaf-0, piaf-1 ...) gets the French analyzer; any other corpus (MS MARCO's numeric
pids, DPR's Wikipedia ids, squad1-<n>) the English one. The header (header.json, analyzer.lang) records it.
header.json records the corpus by content (file name, size, sha256: no directory, no mtime, so the
same corpus gives the same index bytes in any workdir) and every other file's size and sha256;
search bm25 and mine bm25/positives check them on open and refuse a damaged index by file name.
The directory is replaced only when it is absent, empty or a dprep BM25 index (its header.json);
any other directory is refused. A bad passage (invalid JSON or UTF-8, a missing id or text, a TSV row
with the wrong column count) stops the build naming file, line and field; --skip-bad leaves it out
and prints the count per reason.
Example:  dprep index bm25 --corpus squad.corpus.jsonl --out squad.bm25 --lang en`,
  options: {
    corpus: { type: 'string', required: true, role: 'input', help: 'corpus file (.jsonl, .tsv, .parquet, .arrow / .feather; .gz ok)' },
    out: { type: 'string', required: true, role: 'output', help: 'index directory to create' },
    ...corpusColumnsOptions,
    ...analyzerOptions,
    noTitle: { type: 'boolean', help: 'index passage text only, not the title' },
    segmentPostings: { type: 'integer', default: 16777216, help: 'postings held in memory before a sorted run is spilled (10 bytes each)' },
    threads: { type: 'integer', default: 0, min: 0, help: 'worker threads analyzing passages (0: one per core; 1 or more: that many); same index whatever the count' },
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { buildIndexFromCorpus } = await import('../search/bm25/builder.ts');
    const { checkReplaceableDir } = await import('../io/atomic.ts');
    const { readFile, readdir } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { FILES, INDEX_FORMAT } = await import('../search/bm25/format.ts');
    // The build replaces --out whole: only an empty directory or an earlier index (its header says
    // so, or, when the header itself is damaged, it holds nothing but index files) may go.
    const isIndex = async (dir: string) => {
      const header = await readFile(join(dir, FILES.header), 'utf8').catch(() => '');
      try {
        return (JSON.parse(header) as { format?: unknown }).format === INDEX_FORMAT;
      } catch {
        // Not JSON: an index whose header is damaged holds the index's files and nothing else.
        const names = new Set<string>(Object.values(FILES));
        const entries: string[] = await readdir(dir).catch(() => []);
        return entries.includes(FILES.header) && entries.includes(FILES.store) && entries.every((e) => names.has(e));
      }
    };
    await checkReplaceableDir(opts.out, '--out', 'BM25 index', isIndex);
    const language = await resolveLanguage(opts.lang, { corpus: opts.corpus, columns: opts.columns, skipBad: opts.skipBad });
    ctx.log(`index bm25: analyzer language ${language.lang} (from ${language.from})`);
    const bad = new BadRecords(opts.skipBad);
    const stats = await buildIndexFromCorpus(
      opts.corpus,
      opts.out,
      { analyzer: analyzerFromOptions({ ...opts, lang: language.lang }), k1: opts.k1, b: opts.b, indexTitle: !opts.noTitle, segmentPostings: opts.segmentPostings, threads: resolveThreads(opts.threads), columns: opts.columns, onBad: bad.onBad },
      ctx.log,
    );
    if (opts.skipBad) ctx.log(`index bm25: ${bad.render('passages')}`);
    const h = stats.header;
    return { metrics: { passages: h.docs, terms: h.terms, postings: h.postings, language: h.analyzer.lang, seconds: stats.seconds, ...(opts.skipBad ? { badPassages: bad.total } : {}) } };
  },
});
