/**
 * Builds a BM25 index directory (layout in format.ts) from a stream of passages in bounded memory,
 * in phases: analyze (analyze-in-order.ts: batches on worker threads, back in corpus order) →
 * collect (collect.ts: term ids, passage store, postings spilled as sorted runs) → doc tables and
 * the duplicate-id check → merge (merge.ts: runs concatenated per term, BM25 impacts computed once)
 * → header, and the directory put in place atomically. Memory: the segment buffer, the term
 * dictionary, and 4 bytes per doc of lengths, whatever the corpus size. Binary I/O: build-io.ts.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Passage } from '../../types.ts';
import { createAnalyzer, type AnalyzerConfig } from '../../text/analyzer.ts';
import { readCorpus, type CorpusColumns } from '../../io/corpus.ts';
import { makeDir, namingTarget, removeTemp, replaceDir, tempPathFor } from '../../io/atomic.ts';
import { assertReadableFile, type OnBadRecord } from '../../io/lines.ts';
import { sha256File } from '../../io/content-hash.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';
import { DPREP_VERSION } from '../../version.ts';
import { analyzeInOrder } from './analyze-in-order.ts';
import { Collector, type Collected } from './collect.ts';
import { mergeRuns } from './merge.ts';
import { writeTyped } from './build-io.ts';
import { FILES, INDEX_FORMAT, INDEX_FORMAT_VERSION, type Bm25Header, type Bm25Params } from './format.ts';
import { PassageIds, readFileBuffer } from './store.ts';
import { describeFiles, sealHeader } from './manifest.ts';

export interface BuildOptions extends Partial<Bm25Params> {
  analyzer?: Partial<AnalyzerConfig>;
  /** Index the title's terms too (DPR's BM25 indexes "title text"); default true. */
  indexTitle?: boolean;
  /** Postings held in memory before a run is spilled (10 bytes each); default 16M (160 MB). */
  segmentPostings?: number;
  /** The corpus file: named in error messages, recorded in the header by name (no directory), size and sha256. */
  sourceFile?: string;
  /** Worker threads analyzing passages (0: analyze on this thread); the files are the same for any count. Default 0. */
  threads?: number;
  /** Passages per analysis batch; default 512. */
  batchSize?: number;
  /** Called once per passage indexed (progress). */
  onPassage?: () => void;
}

/** What a build reports back (also in header.json). */
export interface BuildStats {
  header: Bm25Header;
  segments: number;
  seconds: number;
  /** Of `seconds`, the time spent merging runs and computing impacts. */
  mergeSeconds: number;
}

/**
 * Builds an index into `dir` (replaced atomically: built beside it, then swapped in).
 * @example
 * await buildBm25Index(readCorpus('corpus.jsonl'), 'corpus.bm25', { analyzer: { lang: 'en' } });
 */
export async function buildBm25Index(passages: AsyncIterable<Passage> | Iterable<Passage>, dir: string, opts: BuildOptions = {}): Promise<BuildStats> {
  const started = Date.now();
  const params: Bm25Params = { k1: opts.k1 ?? 1.2, b: opts.b ?? 0.75 };
  const analyzer = createAnalyzer(opts.analyzer);
  const indexTitle = opts.indexTitle ?? true;
  const source = opts.sourceFile ?? '<passages>';
  const sourceInfo = await describeSource(opts.sourceFile);
  const tmp = tempPathFor(dir);
  try {
    await makeDir(tmp);
    const collector = new Collector(tmp, Math.max(1024, opts.segmentPostings ?? 16 << 20), opts.onPassage);
    const analysis = { analyzer: opts.analyzer, indexTitle, threads: opts.threads ?? 0, batchSize: opts.batchSize ?? 512 };
    await analyzeInOrder(passages, analysis, (batch, thread) => collector.add(batch, thread));
    const c = collector.finish(source);
    const avgdl = c.totalLength / c.docs;
    writeDocTables(tmp, c, source);

    const mergeStarted = Date.now();
    const postings = mergeRuns(tmp, c.runs, c.terms, c.doclen, avgdl, params);
    const header: Omit<Bm25Header, 'checksum'> = {
      format: INDEX_FORMAT,
      version: INDEX_FORMAT_VERSION,
      analyzer: analyzer.config,
      ...params,
      docs: c.docs,
      terms: c.terms,
      postings,
      totalLength: c.totalLength,
      avgdl,
      source: sourceInfo,
      indexTitle,
      dprepVersion: DPREP_VERSION,
      files: describeFiles(tmp),
    };
    const sealed = sealHeader(header);
    writeFileSync(join(tmp, FILES.header), sealed);
    await replaceDir(tmp, dir);
    return { header: JSON.parse(sealed) as Bm25Header, segments: c.runs.length, seconds: (Date.now() - started) / 1000, mergeSeconds: (Date.now() - mergeStarted) / 1000 };
  } catch (err) {
    await removeTemp(tmp);
    throw namingTarget(err, dir);
  }
}

/**
 * Builds an index from a corpus file with a progress line measured in bytes.
 * @example await buildIndexFromCorpus('corpus.jsonl', 'corpus.bm25', { threads: 4 }, console.error);
 */
export async function buildIndexFromCorpus(
  corpus: string,
  dir: string,
  opts: { analyzer?: Partial<AnalyzerConfig>; k1?: number; b?: number; indexTitle?: boolean; segmentPostings?: number; threads?: number; columns?: CorpusColumns; onBad?: OnBadRecord },
  log: (m: string) => void,
): Promise<BuildStats> {
  const bytes = await assertReadableFile(corpus);
  const progress = new Progress('bm25 index', { total: bytes, unit: 'B' });
  const { columns, onBad, ...build } = opts;
  const stats = await buildBm25Index(readCorpus(corpus, { columns, onBad, onRawBytes: (n) => progress.tick(n) }), dir, { ...build, sourceFile: corpus });
  progress.finish();
  const h = stats.header;
  log(`bm25 index: ${h.docs} passages, ${h.terms} terms, ${h.postings} postings, ${stats.segments} run(s), ${stats.seconds.toFixed(1)}s (merge ${stats.mergeSeconds.toFixed(1)}s) → ${dir}`);
  return stats;
}

/** The corpus by content: its name without the directory, size and sha256 (null for passages from memory). */
async function describeSource(file: string | undefined): Promise<Bm25Header['source']> {
  if (!file || !existsSync(file) || !statSync(file).isFile()) return null;
  const { sha256, bytes } = await sha256File(file);
  return { file: basename(file), bytes, sha256 };
}

/** Per-doc tables (lengths, store and id offsets), then ids.u32 and the duplicate-id check. */
function writeDocTables(dir: string, c: Collected, source: string): void {
  writeTyped(join(dir, FILES.doclen), c.doclen);
  writeTyped(join(dir, FILES.storeOffsets), c.storeOffsets);
  writeTyped(join(dir, FILES.pidOffsets), c.pidOffsets);
  checkDuplicateIds(dir, c.hashes, c.pidOffsets, source);
}

/** Sorts (hash, doc) pairs into ids.u32 and rejects a passage_id that occurs twice. */
function checkDuplicateIds(dir: string, hashes: Uint32Array, pidOffsets: Float64Array, source: string): void {
  const n = hashes.length;
  const keys = new BigUint64Array(n);
  for (let d = 0; d < n; d++) keys[d] = (BigInt(hashes[d]) << 32n) | BigInt(d);
  keys.sort();
  const pairs = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    pairs[2 * i] = Number(keys[i] >> 32n);
    pairs[2 * i + 1] = Number(keys[i] & 0xffffffffn);
  }
  writeTyped(join(dir, FILES.ids), pairs);
  const pids = new PassageIds(readFileBuffer(join(dir, FILES.pids), false), pidOffsets);
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && pairs[2 * j] === pairs[2 * i]) j++;
    if (j - i > 1) {
      const seen = new Map<string, number>();
      for (let m = i; m < j; m++) {
        const d = pairs[2 * m + 1];
        const id = pids.get(d);
        const first = seen.get(id);
        if (first !== undefined) {
          throw new InputError(source, `passage ${d + 1}`, 'passage_id', `"${id}" already used by passage ${first + 1}; passage ids must be unique`);
        }
        seen.set(id, d);
      }
    }
    i = j;
  }
}
