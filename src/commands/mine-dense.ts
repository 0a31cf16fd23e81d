/** `dprep mine dense`: hard negatives from the stage-1 model's own confusions (see src/miners/dense.ts). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { defineCommand, type CommandResult } from '../options.ts';
import { Summary, type SummaryJson } from '../util/summary.ts';
import { ScoreHistogram, type ScoreHistogramJson } from '../util/score-histogram.ts';
import { addCounts, emptyCounts, type FilterCounts } from '../miners/filter.ts';
import { requestedUnit, unitDir, unitKey, unitRange, UNIT_OPTIONS } from '../util/units.ts';
import { commitUnit, oneEncoderAtATime, unitAlreadyDone, unitsToMerge } from './_units.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { MARGIN_OPTIONS, minerOptions, minerSettings } from '../miners/options.ts';
import { ANN_OPTIONS, INDEX_BACKENDS, INDEX_KINDS, indexSettings } from '../search/vector/index.ts';
import { TEMPLATE_OPTIONS } from '../trainer/template.ts';
import { EMBED_OVERRIDE_OPTIONS } from '../trainer/options.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';
import type { RecallReport } from '../search/vector/ann.ts';

export const mineDenseCommand = defineCommand({
  id: 'mine.dense',
  summary: 'Re-mine hard negatives with a trained encoder (answer-filtered, rank window, score margin)',
  description: `
Searches every question with the query encoder over the passage embeddings (dprep encode),
drops positives, answer-bearing passages (DPR has_answer), the top --skip-top ranks and hits above
a margin to the lowest-scoring positive (--max-score-ratio, --max-score-margin: the same flags as
mine bm25, correct for any score sign), and keeps --negatives as hard_negative_ctxs.
The summary (<out>.summary.json) counts what each filter removed; <out>.mining.json holds those
counts and a histogram of the positives', kept negatives' and answer-bearing hits' scores (plotted by
dprep eval report --mining). Questions are embedded as the
query encoder dir says (template, pooling, normalization); --query-template, --pooling and
--normalize override it (use what encode used for the passages).
Example:  dprep mine dense --query-model runs/stage1/query_encoder --embeddings emb/ \\
            --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.densehn.json \\
            --depth 200 --skip-top 3 --negatives 30 --max-score-ratio 0.95
Work units: --unit I --units N mines only records [I*U, min((I+1)*U, n)) of the examples (U = ceil(n/N))
into a unit directory beside --out; its questions are encoded and searched in the --batch batches of a
whole run (the unit's first and last batches whole), so scores are bit-identical. Without --unit, once
all N units are done, they merge into --out and <out>.summary.json: the bytes of one run, nothing searched again.`,
  units: { over: 'examples' },
  options: {
    queryModel: { type: 'string', required: true, role: 'input', help: 'query encoder dir (or a bi-encoder dir holding query_encoder/)' },
    embeddings: { type: 'string', required: true, role: 'input', help: 'passage embeddings dir from dprep encode' },
    examples: { type: 'string', required: true, role: 'input', help: 'DPR records (.json array or .jsonl) with positive_ctxs' },
    corpus: { type: 'string', required: true, role: 'input', help: 'the corpus the embeddings were made from' },
    ...corpusColumnsOptions,
    out: { type: 'string', required: true, role: 'output', sideFiles: ['.summary.json', '.mining.json'], help: 'output DPR records (.json, .jsonl, .parquet)' },
    ...minerOptions(200, 3),
    ...MARGIN_OPTIONS,
    keepExisting: { type: 'boolean', help: 'append to the existing hard_negative_ctxs instead of replacing them' },
    index: { type: 'string', choices: INDEX_KINDS, default: 'flat', help: 'flat: exact, shard by shard (memory: one shard); ivf, ivfpq, hnsw: approximate faiss index built from the shards, saved in <embeddings>.ann/ and reused, recall reported' },
    ...ANN_OPTIONS,
    search: { type: 'string', choices: INDEX_BACKENDS, default: 'auto', help: 'faiss when built, or force one' },
    threads: { type: 'integer', help: 'search threads (default: all cores)' },
    batch: { type: 'integer', default: 256, help: 'questions per encode + search call' },
    maxLength: { type: 'integer', default: 64, help: 'tokens per question' },
    queryTemplate: TEMPLATE_OPTIONS.queryTemplate,
    ...EMBED_OVERRIDE_OPTIONS,
    ...UNIT_OPTIONS,
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { mineDense } = await import('../miners/dense.ts');
    const unit = requestedUnit(opts, 'mine dense');
    const { unit: _u, units: _n, threads: _t, ...params } = opts;
    const key = await unitKey('mine.dense', params, [opts.queryModel, opts.embeddings, opts.examples, opts.corpus]);
    if (!unit) {
      const dirs = await unitsToMerge(opts.out, key, 'mine dense');
      if (dirs.length) return mergeDenseUnits(opts.out, dirs, ctx.log);
    }
    return oneEncoderAtATime(async (): Promise<CommandResult> => {
      const { encoderContentHash, encoderOverrides, impliedPassageEncoder, openEncoder } = await import('../trainer/encoder.ts');
      const overrides = encoderOverrides(opts);
      // A bi-encoder dir as --query-model names its passage encoder too: embeddings of another are refused.
      const passageDir = impliedPassageEncoder(opts.queryModel);
      const embeddingsModel = passageDir ? { dir: passageDir, ...(await encoderContentHash(passageDir, 'passage')) } : undefined;
      const queryEncoder = await openEncoder(opts.queryModel, 'query', { ...overrides, maxLength: opts.maxLength, log: ctx.log });
      try {
        const mine = (out: string, range?: { unit: number; start: number; end: number }) => mineDense({
          examples: opts.examples, corpus: opts.corpus, corpusColumns: opts.columns, embeddings: opts.embeddings, embeddingsModel, out, queryEncoder,
          ...minerSettings(opts), skipTop: opts.skipTop, maxScoreRatio: opts.maxScoreRatio, maxScoreMargin: opts.maxScoreMargin,
          keepExisting: opts.keepExisting, index: indexSettings(opts),
          queryBatch: opts.batch, range, skipBad: opts.skipBad, log: ctx.log,
        });
        if (unit) {
          const { countDprRecords } = await import('../io/records.ts');
          const r = unitRange(await countDprRecords(opts.examples, opts.skipBad), unit.unit, unit.units);
          const dir = unitDir(opts.out, r.unit, r.units);
          if (!unitAlreadyDone(opts.out, r, key)) {
            await commitUnit(opts.out, r, key, async (tmp) => {
              const m = await mine(join(tmp, UNIT_RECORDS), r);
              await m.summary.write(join(tmp, UNIT_RECORDS));
              await writeFileAtomic(join(tmp, 'unit.json'), JSON.stringify({ counts: m.counts, search: m.searchBackend, ...(m.recall ? { recall: m.recall } : {}) }) + '\n');
            });
            ctx.log(`unit ${r.unit} of ${r.units}: records ${r.start}..${r.end}`);
          } else ctx.log(`unit ${r.unit} of ${r.units} already done`);
          const [summary, counts, search] = await readUnit(dir);
          return denseMetrics(summary, counts, search);
        }
        const r = await mine(opts.out);
        await r.summary.write(opts.out);
        ctx.log(r.summary.render());
        return { metrics: { ...denseMetrics(r.summary, r.counts, r.searchBackend).metrics, ...(r.recall ? { indexRecall: r.recall.recall } : {}) } };
      } finally {
        queryEncoder.dispose();
      }
    });
  },
});

/** A mining unit's records (JSON lines of DPR records, before the output's format). */
const UNIT_RECORDS = 'records.jsonl';

async function readUnit(dir: string): Promise<[Summary, FilterCounts, string, RecallReport | undefined]> {
  const summary = Summary.merge([JSON.parse(await readFile(join(dir, `${UNIT_RECORDS}.summary.json`), 'utf8')) as SummaryJson]);
  const { counts, search, recall } = JSON.parse(await readFile(join(dir, 'unit.json'), 'utf8')) as { counts: FilterCounts; search: string; recall?: RecallReport };
  return [summary, counts, search, recall];
}

function denseMetrics(summary: Summary, c: FilterCounts, search: string) {
  return { metrics: { records: summary.converted, skipped: summary.skippedTotal, hits: c.hits, removedPositive: c.positive, removedAnswer: c.answer, removedSkipTop: c.skipTop, removedMargin: c.margin, kept: c.kept, search } };
}

/** Merges committed units (in unit order) through the record writer and one summary: the bytes of one run. */
async function mergeDenseUnits(out: string, dirs: readonly string[], log: (m: string) => void) {
  const { copyRecordLines, openRecordWriter } = await import('../io/records.ts');
  const parts = await Promise.all(dirs.map(readUnit));
  const writer = await openRecordWriter(out);
  try {
    for (const dir of dirs) await copyRecordLines(join(dir, UNIT_RECORDS), writer);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const summary = Summary.merge(parts.map(([s]) => s.toJSON()));
  // The units measured the run's recall sample between them: counted once, as a whole run counts it.
  const { countRecall } = await import('../miners/dense.ts');
  const { mergeRecall } = await import('../search/vector/ann.ts');
  const recall = mergeRecall(parts.map((p) => p[3]));
  if (recall) countRecall(summary, recall);
  const counts = emptyCounts();
  for (const [, c] of parts) addCounts(counts, c);
  // <out>.mining.json as one run writes it: totals, short records, and the score histograms merged.
  const mining = await Promise.all(dirs.map(async (dir) => JSON.parse(await readFile(join(dir, `${UNIT_RECORDS}.mining.json`), 'utf8')) as { short: number; scores: ScoreHistogramJson }));
  const short = mining.reduce((n, m) => n + m.short, 0);
  const scores = ScoreHistogram.merge(mining.map((m) => m.scores));
  await writeFileAtomic(`${out}.mining.json`, JSON.stringify({ miner: 'mine dense', filters: counts, short, scores }, null, 1) + '\n');
  await summary.write(out);
  log(summary.render());
  log(`mine dense: merged ${dirs.length} units`);
  const { metrics } = denseMetrics(summary, counts, parts[0][2]);
  return { metrics: { ...metrics, ...(recall ? { indexRecall: recall.recall } : {}) } };
}
