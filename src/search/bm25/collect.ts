/**
 * The index builder's collection phase: analyzed batches, in corpus order, become global term ids
 * (terms.txt), the passage store and id files, per-doc tables, and (term, doc, tf) postings in a
 * segment buffer that is counting-sorted by term and spilled to disk as a run when full. Docs
 * arrive in increasing order, so each run's postings are already doc-ordered per term.
 */
import { join } from 'node:path';
import { InputError } from '../../util/errors.ts';
import type { AnalyzedBatch } from './analyze-batch.ts';
import { BinWriter, growF64, growU32, writeRun, type Grow, type RunFile } from './build-io.ts';
import { FILES } from './format.ts';

/** What collection leaves for the later phases. */
export interface Collected {
  docs: number;
  terms: number;
  totalLength: number;
  doclen: Uint32Array;
  hashes: Uint32Array;
  storeOffsets: Float64Array;
  pidOffsets: Float64Array;
  runs: RunFile[];
}

export class Collector {
  private readonly termIds = new Map<string, number>();
  private readonly termsOut: BinWriter;
  private readonly store: BinWriter;
  private readonly pids: BinWriter;
  private readonly pidOffsets = growF64();
  private readonly storeOffsets = growF64();
  private readonly doclen = growU32();
  private readonly hashes = growU32();
  // Global term ids in first-occurrence order: each analyzer thread's local ids map to global
  // ones as its batches are consumed in corpus order. A term first seen in batch k is new to
  // whichever thread analyzed batch k, and the batch lists its new terms in first-occurrence
  // order, so the ids equal a single-threaded pass's whatever the thread count.
  private readonly localToGlobal: Grow<Uint32Array>[] = [];
  // Segment buffer: (term, doc, tf) triples in doc order.
  private readonly segTerm: Uint32Array;
  private readonly segDoc: Uint32Array;
  private readonly segTf: Uint16Array;
  private segUsed = 0;
  private readonly runs: RunFile[] = [];
  private totalLength = 0;
  private doc = 0;

  constructor(
    private readonly dir: string,
    private readonly segCap: number,
    private readonly onPassage?: () => void,
  ) {
    this.termsOut = new BinWriter(join(dir, FILES.terms));
    this.store = new BinWriter(join(dir, FILES.store));
    this.pids = new BinWriter(join(dir, FILES.pids));
    this.pidOffsets.push(0);
    this.storeOffsets.push(0);
    this.segTerm = new Uint32Array(segCap);
    this.segDoc = new Uint32Array(segCap);
    this.segTf = new Uint16Array(segCap);
  }

  /** Adds the next batch (from analyzer thread `thread`). */
  add(r: AnalyzedBatch, thread: number): void {
    const toGlobal = this.mapNewTerms(r, thread);
    const { postingStart, terms, tfs } = r;
    const storeBase = this.store.bytes;
    const pidBase = this.pids.bytes;
    for (let i = 0; i < r.docs; i++) {
      const start = postingStart[i];
      const end = postingStart[i + 1];
      if (this.segUsed + (end - start) > this.segCap) this.spill();
      for (let k = start; k < end; k++) {
        this.segTerm[this.segUsed] = toGlobal[terms[k]];
        this.segDoc[this.segUsed] = this.doc;
        this.segTf[this.segUsed] = tfs[k];
        this.segUsed++;
      }
      this.doclen.push(r.lengths[i]);
      this.totalLength += r.lengths[i];
      this.hashes.push(r.hashes[i]);
      this.storeOffsets.push(storeBase + r.storeEnds[i]);
      this.pidOffsets.push(pidBase + r.pidEnds[i]);
      this.doc++;
      this.onPassage?.();
    }
    this.store.write(r.store);
    this.pids.write(r.pids);
  }

  /** Gives the batch's new terms global ids; returns the thread's local → global table. */
  private mapNewTerms(r: AnalyzedBatch, thread: number): Uint32Array {
    const map = (this.localToGlobal[thread] ??= growU32());
    if (map.length !== r.firstNewTerm) throw new Error(`bm25 build: analyzer thread ${thread} batches out of order`);
    for (const term of r.newTerms) {
      let id = this.termIds.get(term);
      if (id === undefined) {
        id = this.termIds.size;
        this.termIds.set(term, id);
        this.termsOut.writeString(term + '\n');
      }
      map.push(id);
    }
    return map.data;
  }

  /** Counting-sorts the segment by term and writes it as the next run. */
  private spill(): void {
    const used = this.segUsed;
    if (used === 0) return;
    const vocab = this.termIds.size;
    const counts = new Uint32Array(vocab);
    for (let i = 0; i < used; i++) counts[this.segTerm[i]]++;
    const next = new Float64Array(vocab); // write cursor per term
    let sum = 0;
    for (let t = 0; t < vocab; t++) {
      next[t] = sum;
      sum += counts[t];
    }
    const sortedDoc = new Uint32Array(used);
    const sortedTf = new Uint16Array(used);
    for (let i = 0; i < used; i++) {
      const at = next[this.segTerm[i]]++;
      sortedDoc[at] = this.segDoc[i];
      sortedTf[at] = this.segTf[i];
    }
    const path = join(this.dir, `run-${this.runs.length}.bin`);
    writeRun(path, counts, sortedDoc, sortedTf);
    this.runs.push({ path, vocab, postings: used });
    this.segUsed = 0;
  }

  /** Spills the last segment and closes the files; `source` names the corpus in errors. */
  finish(source: string): Collected {
    this.spill();
    this.termsOut.close();
    this.store.close();
    this.pids.close();
    if (this.doc === 0) throw new InputError(source, undefined, undefined, 'the corpus has no passages');
    if (this.doc > 0xffffffff) throw new Error('bm25 build: more than 2^32 passages');
    const terms = this.termIds.size;
    this.termIds.clear(); // not needed by the merge: free it first
    return {
      docs: this.doc,
      terms,
      totalLength: this.totalLength,
      doclen: this.doclen.view(),
      hashes: this.hashes.view(),
      storeOffsets: this.storeOffsets.view(),
      pidOffsets: this.pidOffsets.view(),
      runs: this.runs,
    };
  }
}
