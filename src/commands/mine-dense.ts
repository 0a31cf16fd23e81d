/** `dprep mine dense`: hard negatives from the stage-1 model's own confusions (see src/miners/dense.ts). */
import { defineCommand } from '../options.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { MARGIN_OPTIONS, minerOptions, minerSettings } from '../miners/options.ts';
import { INDEX_BACKENDS, INDEX_KINDS } from '../search/vector/index.ts';
import { TEMPLATE_OPTIONS } from '../trainer/template.ts';
import { EMBED_OVERRIDE_OPTIONS } from '../trainer/options.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';

export const mineDenseCommand = defineCommand({
  id: 'mine.dense',
  summary: 'Re-mine hard negatives with a trained encoder (answer-filtered, rank window, score margin)',
  description: `
Searches every question with the query encoder over the passage embeddings (dprep encode),
drops positives, answer-bearing passages (DPR has_answer), the top --skip-top ranks and hits above
a margin to the lowest-scoring positive (--max-score-ratio, --max-score-margin: the same flags as
mine bm25, correct for any score sign), and keeps --negatives as hard_negative_ctxs.
The summary (<out>.summary.json) counts what each filter removed. Questions are embedded as the
query encoder dir says (template, pooling, normalization); --query-template, --pooling and
--normalize override it (use what encode used for the passages).
Example:  dprep mine dense --query-model runs/stage1/query_encoder --embeddings emb/ \\
            --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.densehn.json \\
            --depth 200 --skip-top 3 --negatives 30 --max-score-ratio 0.95`,
  options: {
    queryModel: { type: 'string', required: true, role: 'input', help: 'query encoder dir (or a bi-encoder dir holding query_encoder/)' },
    embeddings: { type: 'string', required: true, role: 'input', help: 'passage embeddings dir from dprep encode' },
    examples: { type: 'string', required: true, role: 'input', help: 'DPR records (.json array or .jsonl) with positive_ctxs' },
    corpus: { type: 'string', required: true, role: 'input', help: 'the corpus the embeddings were made from' },
    ...corpusColumnsOptions,
    out: { type: 'string', required: true, role: 'output', sideFiles: ['.summary.json'], help: 'output DPR records (.json, .jsonl, .parquet)' },
    ...minerOptions(200, 3),
    ...MARGIN_OPTIONS,
    keepExisting: { type: 'boolean', help: 'append to the existing hard_negative_ctxs instead of replacing them' },
    index: { type: 'string', choices: INDEX_KINDS, default: 'flat', help: 'faiss IndexFlatIP (exact) or HNSW (approximate)' },
    search: { type: 'string', choices: INDEX_BACKENDS, default: 'auto', help: 'faiss when built, or force one' },
    threads: { type: 'integer', help: 'search threads (default: all cores)' },
    batch: { type: 'integer', default: 256, help: 'questions per encode + search call' },
    maxLength: { type: 'integer', default: 64, help: 'tokens per question' },
    queryTemplate: TEMPLATE_OPTIONS.queryTemplate,
    ...EMBED_OVERRIDE_OPTIONS,
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { mineDense } = await import('../miners/dense.ts');
    const { encoderContentHash, encoderOverrides, impliedPassageEncoder, openEncoder } = await import('../trainer/encoder.ts');
    const overrides = encoderOverrides(opts);
    // A bi-encoder dir as --query-model names its passage encoder too: embeddings of another are refused.
    const passageDir = impliedPassageEncoder(opts.queryModel);
    const embeddingsModel = passageDir ? { dir: passageDir, ...(await encoderContentHash(passageDir, 'passage')) } : undefined;
    const queryEncoder = await openEncoder(opts.queryModel, 'query', { ...overrides, maxLength: opts.maxLength, batchSize: 64, log: ctx.log });
    try {
      const r = await mineDense({
        examples: opts.examples, corpus: opts.corpus, corpusColumns: opts.columns, embeddings: opts.embeddings, embeddingsModel, out: opts.out, queryEncoder,
        ...minerSettings(opts), skipTop: opts.skipTop, maxScoreRatio: opts.maxScoreRatio, maxScoreMargin: opts.maxScoreMargin,
        keepExisting: opts.keepExisting, index: { kind: opts.index, backend: opts.search, threads: opts.threads },
        queryBatch: opts.batch, skipBad: opts.skipBad, log: ctx.log,
      });
      await r.summary.write(opts.out);
      ctx.log(r.summary.render());
      const c = r.counts;
      return { metrics: { records: r.summary.converted, skipped: r.summary.skippedTotal, hits: c.hits, removedPositive: c.positive, removedAnswer: c.answer, removedSkipTop: c.skipTop, removedMargin: c.margin, kept: c.kept, search: r.searchBackend } };
    } finally {
      queryEncoder.dispose();
    }
  },
});
