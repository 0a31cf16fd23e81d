/**
 * The index builder's merge phase: per term, each run's postings are concatenated (runs are in
 * doc order, so no heap is needed) and each posting's BM25 impact computed once, now that df, doc
 * lengths and avgdl are known. Writes docs.u32, impacts.f32, offsets.f64 and maxImpacts.f32.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Progress } from '../../util/progress.ts';
import { BinWriter, bytesOf, openRun, writeTyped, type RunFile } from './build-io.ts';
import { FILES, type Bm25Params } from './format.ts';

/** Merges `runs` into the postings files of `dir`; returns the number of postings. */
export function mergeRuns(dir: string, runs: readonly RunFile[], vocab: number, lengths: Uint32Array, avgdl: number, params: Bm25Params): number {
  const docs = lengths.length;
  const cursors = runs.map(openRun);
  const offsets = new Float64Array(vocab + 1);
  const maxImpacts = new Float32Array(vocab);
  const docsOut = new BinWriter(join(dir, FILES.docs));
  const impactsOut = new BinWriter(join(dir, FILES.impacts));
  const docBuf = new Uint32Array(1 << 16);
  const impBuf = new Float32Array(1 << 16);
  let postings = 0;
  const progress = new Progress('bm25 index: merging', { total: vocab, unit: 'terms' });
  for (let t = 0; t < vocab; t++) {
    offsets[t] = postings;
    let df = 0;
    for (const r of cursors) if (t < r.counts.length) df += r.counts[t];
    const idf = Math.log(1 + (docs - df + 0.5) / (df + 0.5));
    let n = 0;
    for (const r of cursors) {
      const c = t < r.counts.length ? r.counts[t] : 0;
      for (let i = 0; i < c; i++) {
        const d = r.docs.next();
        const tf = r.tfs.next();
        const norm = 1 - params.b + params.b * (lengths[d] / avgdl);
        docBuf[n] = d;
        // Same arithmetic as bm25Impact(), with idf hoisted out of the loop.
        impBuf[n] = (idf * (tf * (params.k1 + 1))) / (tf + params.k1 * norm);
        if (impBuf[n] > maxImpacts[t]) maxImpacts[t] = impBuf[n];
        if (++n === docBuf.length) {
          docsOut.write(bytesOf(docBuf));
          impactsOut.write(bytesOf(impBuf));
          n = 0;
        }
      }
    }
    if (n > 0) {
      docsOut.write(bytesOf(docBuf.subarray(0, n)));
      impactsOut.write(bytesOf(impBuf.subarray(0, n)));
    }
    postings += df;
    if ((t & 0xffff) === 0xffff) progress.update(t);
  }
  offsets[vocab] = postings;
  progress.update(vocab);
  progress.finish();
  docsOut.close();
  impactsOut.close();
  for (const r of cursors) r.close();
  for (const r of runs) rmSync(r.path, { force: true });
  writeTyped(join(dir, FILES.offsets), offsets);
  writeTyped(join(dir, FILES.maxImpacts), maxImpacts);
  return postings;
}
