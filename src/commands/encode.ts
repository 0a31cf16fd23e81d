/**
 * `dprep encode`: embeds a corpus with a passage encoder into shards (raw float32 + manifest),
 * resumable after a kill. Shows progress and passages/s.
 */
import { join } from 'node:path';
import { defineCommand, type CommandResult } from '../options.ts';
import type { Passage } from '../types.ts';
import { alignedUnitRange, requestedUnit, unitKey, UNIT_OPTIONS } from '../util/units.ts';
import { commitUnit, oneEncoderAtATime, unitAlreadyDone, unitsToMerge } from './_units.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { TEMPLATE_OPTIONS } from '../trainer/template.ts';
import { EMBED_OVERRIDE_OPTIONS } from '../trainer/options.ts';

export const encodeCommand = defineCommand({
  id: 'encode',
  summary: 'Embed a corpus with a passage encoder into resumable float32 shards',
  description: `
Reads the corpus (JSONL, psgs_w100 TSV or Parquet) and writes <out>/manifest.json plus
shard-NNNNN.f32 (rows × dim little-endian float32) and shard-NNNNN.ids (one JSON id per line).
Rerunning after a kill keeps the finished shards and continues after them.
Passages are embedded as the encoder dir says (dprep_encoder.json from dprep train, or a
sentence-transformers dir's pooling, Normalize module and passage prompt); --passage-template,
--pooling and --normalize override it. The manifest records the model type and these settings.
Work units: --unit I --units N encodes only passages [I*U, min((I+1)*U, n)), U = ceil(n/N) rounded up to a
multiple of --shard-rows (whole shard files, so each batch and shard is the one a whole run makes), into a
unit directory beside --out; without --unit, once all N units are done, their shards are re-streamed in
unit order into --out (the same manifest and shard bytes as one run), encoding nothing again.
Forward passes: BERT, DPR, RoBERTa, CamemBERT, XLM-R and DistilBERT encoders run on dprep's native
kernels where scripts/build-native.sh built them (no tfjs; DPREP_NATIVE_FORWARD=0 turns it off),
T5 encoders on tfjs; the summary line says which ran.
Memory: the batch is the largest that a memory estimate of one forward pass at --max-length fits
(in 80% of the free RAM on the native forward, in the backend's heap on tfjs: 4 GB on wasm), at
most 64; a --batch that cannot fit is refused before any work, with the estimate and the largest
batch that fits.
Example:  dprep encode --model runs/stage1/passage_encoder --corpus squad.corpus.jsonl --out emb/`,
  units: { over: 'corpus' },
  options: {
    model: { type: 'string', required: true, role: 'input', help: 'passage encoder dir (or a bi-encoder dir holding passage_encoder/)' },
    corpus: { type: 'string', required: true, role: 'input', help: 'corpus file (.jsonl, .tsv, .parquet, .arrow / .feather)' },
    ...corpusColumnsOptions,
    out: { type: 'string', required: true, role: 'output', help: 'embeddings directory' },
    batch: { type: 'integer', min: 1, help: 'passages per forward pass (default: the largest the memory estimate fits at --max-length, at most 64; a batch that cannot fit is refused)' },
    shardRows: { type: 'integer', default: 100000, min: 1, help: 'rows per shard file' },
    workers: { type: 'integer', min: 1, help: 'forward passes on this many replicas (worker threads, one OpenBLAS thread each); 1: this thread with OpenBLAS on every core. Same bytes whatever the count (default: 1 for a corpus file under 16 MB, else one per core, at most 4, as the free RAM allows)' },
    maxLength: { type: 'integer', default: 256, min: 3, help: 'tokens per passage (title + text), specials included' },
    overwrite: { type: 'boolean', help: 'start over when --out holds embeddings of another model or corpus' },
    passageTemplate: TEMPLATE_OPTIONS.passageTemplate,
    ...EMBED_OVERRIDE_OPTIONS,
    ...UNIT_OPTIONS,
  },
  async run(opts, ctx) {
    const unit = requestedUnit(opts, 'encode');
    const { unit: _u, units: _n, overwrite: _o, ...params } = opts;
    const key = await unitKey('encode', params, [opts.model, opts.corpus]);
    if (!unit) {
      const dirs = await unitsToMerge(opts.out, key, 'encode');
      if (dirs.length) return mergeEncodeUnits(opts.out, dirs, opts.overwrite, ctx.log);
    }
    // Share of the tokens fed that were padding, with the length buckets and as batches in corpus order would have had.
    const padding = (s: { tokens: number; padded: number; paddedInOrder: number }) =>
      s.padded === 0 ? '' : ` padding ${pct(1 - s.tokens / s.padded)} of the tokens fed (${pct(1 - s.tokens / s.paddedInOrder)} in corpus order);`;
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    const { basename } = await import('node:path');
    const { sha256File } = await import('../io/content-hash.ts');
    const { readCorpus } = await import('../io/corpus.ts');
    const { assertReadableFile } = await import('../io/lines.ts');
    const { encodeCorpus } = await import('../search/vector/encode.ts');
    const { GB } = await import('../trainer/memory.ts');
    const { encoderContentHash, encoderOverrides, openEncoder } = await import('../trainer/encoder.ts');
    return oneEncoderAtATime(async (): Promise<CommandResult> => {
      const overrides = encoderOverrides(opts);
      await assertReadableFile(opts.corpus);
      // Replicas start in seconds each: worth it past a small corpus (bench/BENCHMARKS.md, encode).
      const { stat } = await import('node:fs/promises');
      const workers = opts.workers ?? ((await stat(opts.corpus)).size >= 16 * 1024 * 1024 ? 'auto' : 1);
      const encoder = await openEncoder(opts.model, 'passage', { ...overrides, maxLength: opts.maxLength, batchSize: opts.batch, batchFlag: '--batch', workers, log: ctx.log });
      try {
        // Model and corpus by content: retraining in place or editing the corpus is another input.
        const [modelHash, corpusHash] = await Promise.all([encoderContentHash(opts.model, 'passage'), sha256File(opts.corpus)]);
        const encodeInto = (passages: AsyncIterable<Passage>, out: string) => encodeCorpus(passages, encoder, out, {
          batchSize: encoder.batchSize,
          shardRows: opts.shardRows,
          // How the vectors were made: a resume with other settings starts over (or is refused).
          model: { maxLength: encoder.maxLength, model_type: encoder.modelType, pooling: encoder.pooling, normalize: encoder.normalize, template: encoder.template ?? null, sha256: modelHash.sha256, files: modelHash.files },
          corpus: { file: basename(opts.corpus), bytes: corpusHash.bytes, sha256: corpusHash.sha256 },
          overwrite: opts.overwrite,
          corpusName: opts.corpus,
        });
        if (unit) {
          let n = 0;
          for await (const _ of readCorpus(opts.corpus, { columns: opts.columns })) n++;
          const r = alignedUnitRange(n, unit.unit, unit.units, opts.shardRows);
          if (unitAlreadyDone(opts.out, r, key)) ctx.log(`encode: unit ${r.unit} of ${r.units} already done`);
          else {
            await commitUnit(opts.out, r, key, async (dir) => {
              const u = await encodeInto(passageRange(readCorpus(opts.corpus, { columns: opts.columns }), r.start, r.end), join(dir, UNIT_EMBEDDINGS));
              ctx.log(`encode: unit ${r.unit} of ${r.units}: passages ${r.start}..${r.end} in ${u.manifest.shards.length} shards, ${u.passagesPerSecond.toFixed(1)} passages/s`);
            });
          }
          return { metrics: { passages: r.end - r.start, units: r.units, model_type: encoder.modelType } };
        }
        const r = await encodeInto(readCorpus(opts.corpus, { columns: opts.columns }), opts.out);
        ctx.log(
          r.encoded === 0 && r.resumed > 0
            ? `encode: ${opts.out} already complete (${r.manifest.count} passages)`
            : `encode: ${r.manifest.count} passages (${r.encoded} now, ${r.resumed} kept) in ${r.manifest.shards.length} shards, dim ${r.manifest.dim}, ${r.passagesPerSecond.toFixed(1)} passages/s;` +
                `${padding(encoder.stats)} ${encoder.forward} forward${encoder.workers > 1 ? ` on ${encoder.workers} replicas` : ''}, batch ${encoder.batchSize} (estimated ${(encoder.memory.bytes / GB).toFixed(2)} GB of ${(encoder.memory.budget / GB).toFixed(2)} GB at ${encoder.maxLength} tokens${opts.batch === undefined ? ', chosen' : ''})`,
        );
        const s = encoder.stats;
        return {
          metrics: {
            passages: r.manifest.count, passagesPerSecond: Number(r.passagesPerSecond.toFixed(2)), model_type: encoder.modelType, batch: encoder.batchSize,
            ...(s.padded > 0 ? { paddingFraction: Number((1 - s.tokens / s.padded).toFixed(4)), paddingFractionInOrder: Number((1 - s.tokens / s.paddedInOrder).toFixed(4)) } : {}),
          },
        };
      } finally {
        encoder.dispose();
      }
    });
  },
});

/** A unit's embeddings directory inside its unit dir. */
const UNIT_EMBEDDINGS = 'embeddings';

/** Passages [start, end) of a corpus stream. */
async function* passageRange(passages: AsyncIterable<Passage>, start: number, end: number): AsyncGenerator<Passage> {
  let i = 0;
  for await (const p of passages) {
    if (i >= end) return;
    if (i++ >= start) yield p;
  }
}

/**
 * Re-streams the units' shards (whole shard files each, in unit order) through one EmbeddingsWriter
 * into `out`: the shards and manifest of one run; an interrupted merge resumes after its kept shards.
 */
async function mergeEncodeUnits(out: string, dirs: readonly string[], overwrite: boolean, log: (m: string) => void) {
  const { EmbeddingsWriter, readEmbeddingShards, readEmbeddingsManifest } = await import('../io/embeddings.ts');
  const first = await readEmbeddingsManifest(join(dirs[0], UNIT_EMBEDDINGS));
  const writer = await EmbeddingsWriter.open(out, { dim: first.dim, shardRows: first.shardRows, model: first.model, corpus: first.corpus, overwrite });
  let skip = writer.resumedRows;
  if (!writer.complete) {
    for (const dir of dirs) {
      for await (const shard of readEmbeddingShards(join(dir, UNIT_EMBEDDINGS))) {
        // Units are whole shards, so a resumed merge skips whole shards.
        if (skip >= shard.ids.length) {
          skip -= shard.ids.length;
          continue;
        }
        await writer.add(shard.ids, shard.vectors);
      }
    }
  }
  const manifest = await writer.finish();
  log(`encode: merged ${dirs.length} units: ${manifest.count} passages in ${manifest.shards.length} shards, dim ${manifest.dim}`);
  return { metrics: { passages: manifest.count, units: dirs.length, model_type: String(first.model.model_type ?? '') } };
}
