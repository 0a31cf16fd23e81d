/**
 * On-disk layout of a dprep BM25 index directory. Plain little-endian typed-array files plus a
 * JSON header, so an index loads with a handful of sequential reads:
 *
 *   header.json     Bm25Header below: lists every other file with its size and sha256, sealed
 *                   by its own checksum (manifest.ts checks them on open)
 *   terms.txt       one term per line; line i is term id i
 *   offsets.f64     Float64 × (terms + 1): postings of term t are [offsets[t], offsets[t+1])
 *   docs.u32        Uint32 per posting: doc number (corpus order), ascending within a term
 *   impacts.f32     Float32 per posting: the term's full BM25 contribution to that doc
 *   maximp.f32      Float32 per term: its largest impact (MaxScore's upper bound)
 *   doclen.u32      Uint32 per doc: analyzed length (title + text), kept so k1/b can be re-derived
 *   store.bin       one JSON line per doc: [passage_id, title, text]
 *   store.f64       Float64 × (docs + 1): byte offsets of store lines
 *   pids.bin        passage ids, UTF-8, concatenated (doc → id without touching the store)
 *   pids.f64        Float64 × (docs + 1): byte offsets into pids.bin
 *   ids.u32         (hash32(passage_id), doc) pairs sorted by hash, then doc: id → doc lookup
 */
import type { AnalyzerConfig } from '../../text/analyzer.ts';

export const INDEX_FORMAT = 'dprep-bm25';
/** 2: header.json records the corpus by content (no path, no mtime) and every file's size and sha256. */
export const INDEX_FORMAT_VERSION = 2;

export interface Bm25Params {
  k1: number;
  b: number;
}

export interface Bm25Header extends Bm25Params {
  format: typeof INDEX_FORMAT;
  version: number;
  analyzer: AnalyzerConfig;
  docs: number;
  terms: number;
  postings: number;
  /** Sum of analyzed doc lengths, and its mean (BM25's avgdl). */
  totalLength: number;
  avgdl: number;
  /**
   * What was indexed, by content: the corpus file's name (no directory), size and sha256. Nothing
   * machine-specific, so the same corpus gives the same index bytes in any workdir.
   */
  source: { file: string; bytes: number; sha256: string } | null;
  /** Whether the title's terms are indexed with the text's. */
  indexTitle: boolean;
  dprepVersion: string;
  /** Size and sha256 of every other file of the index. */
  files: Record<string, IndexFile>;
  /** sha256 of this header's JSON without this field (manifest.ts sealHeader). */
  checksum: string;
}

/** One file of an index, as header.json records it. */
export interface IndexFile {
  bytes: number;
  sha256: string;
}

export const FILES = {
  header: 'header.json',
  terms: 'terms.txt',
  offsets: 'offsets.f64',
  docs: 'docs.u32',
  impacts: 'impacts.f32',
  maxImpacts: 'maximp.f32',
  doclen: 'doclen.u32',
  store: 'store.bin',
  storeOffsets: 'store.f64',
  pids: 'pids.bin',
  pidOffsets: 'pids.f64',
  ids: 'ids.u32',
} as const;

/**
 * BM25's per-term score for one document, the Lucene form wink-bm25-text-search also uses:
 * idf = ln(1 + (N − df + 0.5) / (df + 0.5)),  tf part = tf·(k1 + 1) / (tf + k1·(1 − b + b·dl/avgdl)).
 * @example bm25Impact(2, 100, 10, 1000, 98.5, { k1: 1.2, b: 0.75 })
 */
export function bm25Impact(tf: number, dl: number, df: number, docs: number, avgdl: number, p: Bm25Params): number {
  const idf = Math.log(1 + (docs - df + 0.5) / (df + 0.5));
  const norm = 1 - p.b + p.b * (dl / avgdl);
  return (idf * (tf * (p.k1 + 1))) / (tf + p.k1 * norm);
}
