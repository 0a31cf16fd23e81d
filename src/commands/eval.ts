/**
 * `dprep eval`: DPR top-k accuracy of a dense model (or of any run file), or qrels metrics
 * (MRR@k, Recall@k, nDCG@k, MAP) of a run, computed as trec_eval does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineCommand } from '../options.ts';
import type { Run, RunEntry } from '../eval/trec.ts';
import type { RecallReport } from '../search/vector/ann.ts';
import { requestedUnit, unitKey, unitRange, UNIT_OPTIONS } from '../util/units.ts';
import { commitUnit, oneEncoderAtATime, unitAlreadyDone, unitsToMerge } from './_units.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { ANN_OPTIONS, INDEX_BACKENDS, INDEX_KINDS, indexSettings } from '../search/vector/index.ts';
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
sentence-transformers files); --query-template, --passage-template, --pooling, --normalize override.
Work units (dense model): --unit I --units N retrieves only questions [I*U, min((I+1)*U, n)) (U = ceil(n/N)),
in the query batches of a whole run, into a unit directory beside --out (else --run-out); without --unit,
once all N units are done, their runs are joined in order and scored: the same metrics and run file as one run.
Without --embeddings every unit encodes the whole corpus: give --embeddings (dprep encode) when sharding.`,
  units: { over: 'examples' },
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
    index: { type: 'string', choices: INDEX_KINDS, default: 'flat', help: 'flat: exact (with --embeddings: shard by shard); ivf, ivfpq, hnsw: approximate faiss index built from --embeddings (saved in <embeddings>.ann/), recall reported' },
    ...ANN_OPTIONS,
    json: { type: 'boolean', help: 'print the metrics as one JSON object' },
    out: { type: 'string', role: 'output', help: 'also write the metrics JSON here (input to dprep eval report)' },
    ...TEMPLATE_OPTIONS,
    ...EMBED_OVERRIDE_OPTIONS,
    ...UNIT_OPTIONS,
  },
  async run(opts, ctx) {
    const { UsageError } = await import('../util/errors.ts');
    const { writeFileAtomic } = await import('../io/atomic.ts');
    const trec = await import('../eval/trec.ts');
    const ks = opts.k;
    const dense = !opts.run && opts.examples !== undefined && opts.corpus !== undefined && (opts.model ?? opts.queryModel) !== undefined;
    /** The dense run of questions [range) (all without one), and the query encoder's model_type. */
    // An approximate --index's recall against exact search (reported beside the metrics).
    let indexRecall: RecallReport | undefined;
    const denseEvalRun = (range?: { start: number; end: number }) => oneEncoderAtATime(async () => {
      const { denseRun } = await import('../eval/retrieval.ts');
      const { encoderContentHash, encoderOverrides, encoderWeightBytes, openEncoder } = await import('../trainer/encoder.ts');
      const overrides = { ...encoderOverrides(opts), log: ctx.log };
      // --model names the passage encoder: embeddings of another one are refused.
      const embeddingsModel = opts.embeddings && opts.model ? { dir: opts.model, ...(await encoderContentHash(opts.model, 'passage')) } : undefined;
      // Both encoders share one tfjs heap: the query encoder's batch leaves room for the passage weights.
      const reserveBytes = opts.embeddings ? 0 : await encoderWeightBytes(opts.model ?? opts.queryModel!, 'passage');
      const queryEncoder = await openEncoder((opts.queryModel ?? opts.model)!, 'query', { ...overrides, maxLength: 64, reserveBytes });
      const passageEncoder = opts.embeddings ? undefined : await openEncoder(opts.model ?? opts.queryModel!, 'passage', overrides);
      try {
        const run = await denseRun({ examples: opts.examples!, corpus: opts.corpus!, corpusColumns: opts.columns, queryEncoder, passageEncoder, embeddings: opts.embeddings, embeddingsModel, depth: Math.max(...ks, opts.mrr), index: indexSettings(opts), range, log: ctx.log, onRecall: (r) => (indexRecall = r) });
        return { run, modelType: queryEncoder.modelType, recall: indexRecall };
      } finally {
        queryEncoder.dispose();
        passageEncoder?.dispose();
      }
    });
    const unit = requestedUnit(opts, 'eval');
    // The unit dirs go beside --out, else --run-out (the runner's choice too: the first output given).
    const unitOut = opts.out ?? opts.runOut;
    const { unit: _u, units: _n, json: _j, ...params } = opts;
    const key = await unitKey('eval', params, [opts.model, opts.queryModel, opts.embeddings, opts.examples, opts.corpus, opts.run, opts.qrels]);
    if (unit) {
      if (!unitOut) throw new UsageError('eval --unit: give --out or --run-out (the unit directory goes beside it)');
      const { countDprRecords } = await import('../io/records.ts');
      // Only a dense model's retrieval is split; other modes commit empty units and do their work at the merge.
      const r = unitRange(dense ? await countDprRecords(opts.examples!) : 0, unit.unit, unit.units);
      if (!unitAlreadyDone(unitOut, r, key)) {
        await commitUnit(unitOut, r, key, async (dir) => {
          if (!dense) return;
          const { run, modelType, recall } = await denseEvalRun(r);
          await writeFileAtomic(join(dir, 'run.json'), JSON.stringify({ modelType, run: [...run], ...(recall ? { recall } : {}) }) + '\n');
        });
      }
      ctx.log(`eval: unit ${r.unit} of ${r.units}, questions ${r.start}..${r.end}`);
      const metrics: Record<string, number> = { queries: r.end - r.start, units: r.units };
      return { metrics };
    }
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
      const { dprAccuracy } = await import('../eval/retrieval.ts');
      let run: Run;
      if (opts.run) run = await trec.readRun(opts.run);
      else {
        const dirs = unitOut ? await unitsToMerge(unitOut, key, 'eval') : [];
        if (dirs.length) {
          // The units' runs joined in unit order: the Map a whole run builds, question by question.
          run = new Map();
          const recalls: (RecallReport | undefined)[] = [];
          for (const dir of dirs) {
            const part = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as { modelType: string; run: [string, RunEntry[]][]; recall?: RecallReport };
            modelType ??= part.modelType;
            for (const [qid, entries] of part.run) run.set(qid, entries);
            recalls.push(part.recall);
          }
          // The units measured the run's recall sample between them.
          const { mergeRecall } = await import('../search/vector/ann.ts');
          indexRecall = mergeRecall(recalls);
          ctx.log(`eval: merged ${dirs.length} units`);
        } else ({ run, modelType } = await denseEvalRun());
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
    // An approximate --index: what it loses against exact search, beside the metrics it gave.
    if (indexRecall !== undefined) metrics = { ...metrics, [`index_recall@${Math.max(...ks)}`]: indexRecall.recall };
    const rounded = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Number(v.toFixed(6))]));
    const model: Record<string, string> = modelType === undefined ? {} : { model_type: modelType };
    if (opts.out) await writeFileAtomic(opts.out, JSON.stringify({ ...rounded, queries, ...model }, null, 2) + '\n');
    if (opts.json) console.log(JSON.stringify(rounded));
    else console.log([`queries ${queries}`, ...Object.entries(rounded).map(([k, v]) => `${k.padEnd(12)} ${v.toFixed(4)}`)].join('\n'));
    return { metrics: { ...rounded, queries, ...model } };
  },
});
