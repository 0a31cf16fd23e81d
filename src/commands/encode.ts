/**
 * `dprep encode`: embeds a corpus with a passage encoder into shards (raw float32 + manifest),
 * resumable after a kill. Shows progress and passages/s.
 */
import { defineCommand } from '../options.ts';
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
Memory: the batch is the largest that a memory estimate of one forward pass at --max-length fits
in the backend's heap (4 GB on wasm), at most 64; a --batch that cannot fit is refused before
any work, with the estimate and the largest batch that fits.
Example:  dprep encode --model runs/stage1/passage_encoder --corpus squad.corpus.jsonl --out emb/`,
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
  },
  async run(opts, ctx) {
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
    const overrides = encoderOverrides(opts);
    await assertReadableFile(opts.corpus);
    // Replicas start in seconds each: worth it past a small corpus (bench/BENCHMARKS.md, encode).
    const { stat } = await import('node:fs/promises');
    const workers = opts.workers ?? ((await stat(opts.corpus)).size >= 16 * 1024 * 1024 ? 'auto' : 1);
    const encoder = await openEncoder(opts.model, 'passage', { ...overrides, maxLength: opts.maxLength, batchSize: opts.batch, batchFlag: '--batch', workers, log: ctx.log });
    try {
      // Model and corpus by content: retraining in place or editing the corpus is another input.
      const [modelHash, corpusHash] = await Promise.all([encoderContentHash(opts.model, 'passage'), sha256File(opts.corpus)]);
      const r = await encodeCorpus(readCorpus(opts.corpus, { columns: opts.columns }), encoder, opts.out, {
        batchSize: encoder.batchSize,
        shardRows: opts.shardRows,
        // How the vectors were made: a resume with other settings starts over (or is refused).
        model: { maxLength: encoder.maxLength, model_type: encoder.modelType, pooling: encoder.pooling, normalize: encoder.normalize, template: encoder.template ?? null, sha256: modelHash.sha256, files: modelHash.files },
        corpus: { file: basename(opts.corpus), bytes: corpusHash.bytes, sha256: corpusHash.sha256 },
        overwrite: opts.overwrite,
        corpusName: opts.corpus,
      });
      ctx.log(
        r.encoded === 0 && r.resumed > 0
          ? `encode: ${opts.out} already complete (${r.manifest.count} passages)`
          : `encode: ${r.manifest.count} passages (${r.encoded} now, ${r.resumed} kept) in ${r.manifest.shards.length} shards, dim ${r.manifest.dim}, ${r.passagesPerSecond.toFixed(1)} passages/s;` +
              `${padding(encoder.stats)} batch ${encoder.batchSize} (estimated ${(encoder.memory.bytes / GB).toFixed(2)} GB of ${(encoder.memory.budget / GB).toFixed(2)} GB at ${encoder.maxLength} tokens${opts.batch === undefined ? ', chosen' : ''})`,
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
  },
});
