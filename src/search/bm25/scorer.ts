/**
 * Exact top-k BM25 over impact-ordered postings: term-at-a-time accumulation into a dense score
 * array, then a bounded heap over the touched docs. Ties are broken by doc number (corpus order),
 * so results are identical whichever thread computes them.
 */

/** The postings arrays a scorer reads; SharedArrayBuffer-backed in worker threads. */
export interface PostingsArrays {
  /** Float64 × (terms + 1). */
  offsets: Float64Array;
  /** Uint32 doc number per posting. */
  docs: Uint32Array;
  /** Float32 BM25 contribution per posting. */
  impacts: Float32Array;
  docCount: number;
}

/** A query as term ids with their weights (the term's count in the query). */
export interface TermQuery {
  ids: Uint32Array;
  weights: Float64Array;
}

export interface TopK {
  docs: Uint32Array;
  scores: Float64Array;
}

/**
 * Holds the per-thread scratch (a score per doc) so repeated queries allocate nothing big.
 * @example const top = new Bm25Scorer(arrays).topK({ ids, weights }, 100)
 */
export class Bm25Scorer {
  private readonly acc: Float64Array;
  private touched: Uint32Array;

  constructor(private readonly p: PostingsArrays) {
    this.acc = new Float64Array(p.docCount);
    this.touched = new Uint32Array(1024);
  }

  topK(q: TermQuery, k: number): TopK {
    const { offsets, docs, impacts } = this.p;
    const acc = this.acc;
    let touched = this.touched;
    let nTouched = 0;
    for (let j = 0; j < q.ids.length; j++) {
      const t = q.ids[j];
      const w = q.weights[j];
      const end = offsets[t + 1];
      const start = offsets[t];
      if (nTouched + (end - start) > touched.length) {
        const grown = new Uint32Array(Math.max(touched.length * 2, nTouched + (end - start)));
        grown.set(touched.subarray(0, nTouched));
        touched = this.touched = grown;
      }
      for (let p = start; p < end; p++) {
        const d = docs[p];
        // Impacts are > 0 (BM25's Lucene idf is positive), so 0 means "not seen yet".
        if (acc[d] === 0) touched[nTouched++] = d;
        acc[d] += w * impacts[p];
      }
    }
    const result = selectTop(acc, touched, nTouched, k);
    for (let i = 0; i < nTouched; i++) acc[touched[i]] = 0;
    return result;
  }
}

/** True when (sa, da) ranks below (sb, db): lower score, or equal score and later doc. */
const worse = (sa: number, da: number, sb: number, db: number): boolean => sa < sb || (sa === sb && da > db);

/** Top k of the touched docs by (score desc, doc asc) with a min-heap of size k. */
function selectTop(acc: Float64Array, touched: Uint32Array, n: number, k: number): TopK {
  const size = Math.min(k, n);
  const hd = new Uint32Array(size); // heap of docs; root = the worst kept
  const hs = new Float64Array(size);
  let h = 0;
  for (let i = 0; i < n; i++) {
    const d = touched[i];
    const s = acc[d];
    if (h < size) {
      // sift up
      let c = h++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!worse(s, d, hs[parent], hd[parent])) break;
        hs[c] = hs[parent];
        hd[c] = hd[parent];
        c = parent;
      }
      hs[c] = s;
      hd[c] = d;
    } else if (size > 0 && worse(hs[0], hd[0], s, d)) {
      // replace root, sift down
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= size) break;
        const r = l + 1;
        const m = r < size && worse(hs[r], hd[r], hs[l], hd[l]) ? r : l;
        if (!worse(hs[m], hd[m], s, d)) break;
        hs[c] = hs[m];
        hd[c] = hd[m];
        c = m;
      }
      hs[c] = s;
      hd[c] = d;
    }
  }
  const order = Array.from({ length: h }, (_, i) => i).sort((a, b) => hs[b] - hs[a] || hd[a] - hd[b]);
  const out: TopK = { docs: new Uint32Array(h), scores: new Float64Array(h) };
  order.forEach((i, r) => {
    out.docs[r] = hd[i];
    out.scores[r] = hs[i];
  });
  return out;
}
