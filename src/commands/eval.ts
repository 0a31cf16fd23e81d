/**
 * `dprep eval`: DPR top-k accuracy of a dense model (or of any run file), or qrels metrics
 * (MRR@k, Recall@k, nDCG@k, MAP) of a run, computed as trec_eval does.
 */
import { defineCommand } from '../options.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { INDEX_BACKENDS } from '../search/vector/index.ts';
import { MATCH_MODES } from '../text/answer.ts';
import { TEMPLATE_OPTIONS } from '../trainer/template.ts';
import { EMBED_OVERRIDE_OPTIONS } from '../trainer/options.ts';

export const evalCommand = defineCommand({
  id: 'eval',
  summary: 'Retrieval metrics: DPR top-k accuracy, or MRR/Recall/nDCG/MAP against qrels',
  description: `
Two ways in:
  dense model:  --model DIR --examples dev.dpr.json --corpus C --k 1,5,20,100 [--embeddings emb/] [--run-out dev.trec]
  run file:     --run dev.trec --qrels qrels.tsv --metrics mrr@10,recall@100,ndcg@10
                --run bm25.trec --examples dev.dpr.json --corpus C --k 1,20,100   (DPR accuracy of any run)
Qrels: "qid 0 docid rel", "qid Q0 docid rel" or "qid<TAB>docid<TAB>rel" (header optional).
Queries are averaged over those in both run and qrels (trec_eval's default; --complete counts the rest as 0).
Records without answer strings (MS MARCO) get no top-k: score their run against qrels instead.
--json prints the metrics as one JSON object keyed by metric name; --out writes it to a file too
(with the model_type of a dense model). A dense model embeds as its dirs say (dprep_encoder.json or
sentence-transformers files); --query-template, --passage-template, --pooling, --normalize override.`,
  options: {
    model: { type: 'string', role: 'input', help: 'bi-encoder dir (query_encoder/ + passage_encoder/) or a shared encoder dir' },
    queryModel: { type: 'string', role: 'input', help: 'query encoder dir (overrides --model for questions)' },
    embeddings: { type: 'string', role: 'input', help: 'passage embeddings from dprep encode (else the corpus is encoded now)' },
    examples: { type: 'string', role: 'input', help: 'DPR records whose questions and answers are evaluated' },
    corpus: { type: 'string', role: 'input', help: 'corpus the passages come from' },
    ...corpusColumnsOptions,
    k: { type: 'list', items: 'integer', min: 1, default: [1, 5, 20, 100], help: 'top-k cutoffs for DPR accuracy' },
    mrr: { type: 'integer', min: 0, default: 0, help: 'DPR accuracy: also report mrr@K, the reciprocal rank of the first answer-bearing passage within the top K, averaged (0: off)' },
    runOut: { type: 'string', role: 'output', help: 'write the dense retrieval as a TREC run file' },
    run: { type: 'string', role: 'input', help: 'TREC run file to evaluate' },
    qrels: { type: 'string', role: 'input', help: 'relevance judgements for --run' },
    metrics: { type: 'list', default: ['mrr@10', 'recall@100', 'ndcg@10', 'map'], help: 'qrels metrics: mrr[@k], recall[@k], ndcg[@k], map[@k], p@k' },
    complete: { type: 'boolean', help: 'average over every qrels query; missing ones count 0 (trec_eval -c)' },
    match: { type: 'string', choices: MATCH_MODES, default: 'string', help: 'DPR has_answer match mode' },
    search: { type: 'string', choices: INDEX_BACKENDS, default: 'auto', help: 'vector search backend' },
    json: { type: 'boolean', help: 'print the metrics as one JSON object' },
    out: { type: 'string', role: 'output', help: 'also write the metrics JSON here (input to dprep eval report)' },
    ...TEMPLATE_OPTIONS,
    ...EMBED_OVERRIDE_OPTIONS,
  },
  async run(opts, ctx) {
    const { UsageError } = await import('../util/errors.ts');
    const { writeFileAtomic } = await import('../io/atomic.ts');
    const trec = await import('../eval/trec.ts');
    const ks = opts.k;
    let metrics: Record<string, number>;
    let queries: number;
    let modelType: string | undefined;
    if (opts.run && opts.qrels) {
      const { evaluateRun, parseMetrics } = await import('../eval/metrics.ts');
      const specs = parseMetrics(opts.metrics);
      const res = evaluateRun(await trec.readRun(opts.run), await trec.readQrels(opts.qrels), specs, { complete: opts.complete });
      if (res.unjudgedQueries) ctx.log(`eval: ${res.unjudgedQueries} run queries have no qrels and are not averaged`);
      ({ metrics, queries } = res);
    } else if (opts.examples && opts.corpus && (opts.run || opts.model || opts.queryModel)) {
      const { dprAccuracy, denseRun } = await import('../eval/retrieval.ts');
      let run;
      if (opts.run) run = await trec.readRun(opts.run);
      else {
        const { encoderContentHash, encoderOverrides, openEncoder } = await import('../trainer/encoder.ts');
        const overrides = { ...encoderOverrides(opts), log: ctx.log };
        // --model names the passage encoder: embeddings of another one are refused.
        const embeddingsModel = opts.embeddings && opts.model ? { dir: opts.model, ...(await encoderContentHash(opts.model, 'passage')) } : undefined;
        const queryEncoder = await openEncoder((opts.queryModel ?? opts.model)!, 'query', { ...overrides, maxLength: 64 });
        modelType = queryEncoder.modelType;
        const passageEncoder = opts.embeddings ? undefined : await openEncoder(opts.model ?? opts.queryModel!, 'passage', overrides);
        try {
          run = await denseRun({ examples: opts.examples, corpus: opts.corpus, corpusColumns: opts.columns, queryEncoder, passageEncoder, embeddings: opts.embeddings, embeddingsModel, depth: Math.max(...ks, opts.mrr), index: { backend: opts.search }, log: ctx.log });
        } finally {
          queryEncoder.dispose();
          passageEncoder?.dispose();
        }
        if (opts.runOut) await trec.writeRun(opts.runOut, run, 'dprep-dense');
      }
      const acc = await dprAccuracy(run, opts.examples, opts.corpus, ks, opts.match, opts.columns, opts.mrr);
      ({ metrics, questions: queries } = acc);
      if (acc.answered === 0 && queries > 0) {
        // MS MARCO-style records carry no answer strings: top-k would be 0 by construction.
        metrics = {};
        ctx.log(`eval: none of the ${queries} questions has an answer string, so DPR top-k accuracy is not reported;` +
          `${opts.runOut ? ` score ${opts.runOut} with --qrels` : ' write the run with --run-out and score it with --qrels'}`);
      }
    } else {
      throw new UsageError('give --run with --qrels, or --examples and --corpus with --model (or --run)');
    }
    const rounded = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Number(v.toFixed(6))]));
    const model: Record<string, string> = modelType === undefined ? {} : { model_type: modelType };
    if (opts.out) await writeFileAtomic(opts.out, JSON.stringify({ ...rounded, queries, ...model }, null, 2) + '\n');
    if (opts.json) console.log(JSON.stringify(rounded));
    else console.log([`queries ${queries}`, ...Object.entries(rounded).map(([k, v]) => `${k.padEnd(12)} ${v.toFixed(4)}`)].join('\n'));
    return { metrics: { ...rounded, queries, ...model } };
  },
});
