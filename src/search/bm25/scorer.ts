/**
 * Exact top-k BM25: term-at-a-time accumulation into a dense score array with MaxScore pruning,
 * then a bounded heap. Terms go in decreasing order of their largest impact (rare terms first).
 * Once the impacts the remaining terms could still add (R) cannot lift an unseen doc to the
 * current k-th score (θ), those terms no longer open new candidates: candidates that cannot
 * reach θ are dropped and the rest are completed by galloping search in the long posting lists.
 * The top k is the same as the exhaustive one; ties are broken by doc number (corpus order),
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
  /** Float32 per term: its largest impact. */
  maxImpacts: Float32Array;
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
  private touched = new Uint32Array(1024);
  /** Queries whose long posting lists were skipped by MaxScore (for tests and benchmarks). */
  prunedQueries = 0;

  constructor(private readonly p: PostingsArrays) {
    this.acc = new Float64Array(p.docCount);
  }

  /** Exact top k, best first. */
  topK(q: TermQuery, k: number): TopK {
    const { offsets, docs, impacts, maxImpacts } = this.p;
    const acc = this.acc;
    const m = q.ids.length;
    const order = termOrder(q, maxImpacts);
    const bounds = order.map((j) => q.weights[j] * maxImpacts[q.ids[j]]);
    let rest = bounds.reduce((x, y) => x + y, 0); // R: most that terms not yet added can give
    let nTouched = 0;
    let j = 0;
    for (; j < m; j++) {
      if (nTouched >= k && j > 0) {
        const theta = kthScore(acc, this.touched, nTouched, k);
        if (rest < theta - slack(theta)) break; // no unseen doc can reach the top k any more
      }
      const t = q.ids[order[j]];
      const w = q.weights[order[j]];
      const start = offsets[t];
      const end = offsets[t + 1];
      if (nTouched + (end - start) > this.touched.length) this.grow(nTouched + (end - start), nTouched);
      const touched = this.touched;
      for (let p = start; p < end; p++) {
        const d = docs[p];
        // Impacts are > 0 (BM25's Lucene idf is positive), so 0 means "not seen yet".
        if (acc[d] === 0) touched[nTouched++] = d;
        acc[d] += w * impacts[p];
      }
      rest -= bounds[j];
    }
    let result: TopK;
    if (j === m) result = selectTop(acc, this.touched, nTouched, k);
    else {
      this.prunedQueries++;
      // Completion: only docs that can still reach θ, in doc order for galloping.
      let theta = kthScore(acc, this.touched, nTouched, k);
      let cands = this.touched.slice(0, nTouched).filter((d) => acc[d] + rest >= theta - slack(theta)).sort();
      for (; j < m; j++) {
        const t = q.ids[order[j]];
        const w = q.weights[order[j]];
        let p = offsets[t];
        const end = offsets[t + 1];
        for (let c = 0; c < cands.length && p < end; c++) {
          const d = cands[c];
          p = gallop(docs, p, end, d);
          if (p < end && docs[p] === d) acc[d] += w * impacts[p];
        }
        rest -= bounds[j];
        theta = kthScore(acc, cands, cands.length, k);
        cands = cands.filter((d) => acc[d] + rest >= theta - slack(theta));
      }
      result = selectTop(acc, cands, cands.length, k);
    }
    for (let i = 0; i < nTouched; i++) acc[this.touched[i]] = 0;
    return result;
  }

  /** Exhaustive term-at-a-time top k (no pruning): the reference MaxScore is tested against. */
  topKExhaustive(q: TermQuery, k: number): TopK {
    const { offsets, docs, impacts } = this.p;
    const acc = this.acc;
    let nTouched = 0;
    // Same summation order as topK, so scores agree to the bit.
    for (const j of termOrder(q, this.p.maxImpacts)) {
      const t = q.ids[j];
      const start = offsets[t];
      const end = offsets[t + 1];
      if (nTouched + (end - start) > this.touched.length) this.grow(nTouched + (end - start), nTouched);
      for (let p = start; p < end; p++) {
        const d = docs[p];
        if (acc[d] === 0) this.touched[nTouched++] = d;
        acc[d] += q.weights[j] * impacts[p];
      }
    }
    const result = selectTop(acc, this.touched, nTouched, k);
    for (let i = 0; i < nTouched; i++) acc[this.touched[i]] = 0;
    return result;
  }

  private grow(needed: number, used: number): void {
    const grown = new Uint32Array(Math.min(Math.max(this.touched.length * 2, needed), Math.max(needed, this.p.docCount)));
    grown.set(this.touched.subarray(0, used));
    this.touched = grown;
  }
}

/** Query positions by decreasing upper bound (ties by position, to stay deterministic). */
function termOrder(q: TermQuery, maxImpacts: Float32Array): number[] {
  const ub = (j: number) => q.weights[j] * maxImpacts[q.ids[j]];
  return Array.from({ length: q.ids.length }, (_, j) => j).sort((a, b) => ub(b) - ub(a) || a - b);
}

/** Float tolerance on pruning tests: sums taken in other orders may differ in the last bits. */
const slack = (theta: number): number => 1e-9 * Math.max(1, Math.abs(theta));

/** First position in [lo, end) whose doc is >= d (exponential then binary search). */
function gallop(docs: Uint32Array, lo: number, end: number, d: number): number {
  if (lo >= end || docs[lo] >= d) return lo;
  let step = 1;
  let hi = lo + 1;
  while (hi < end && docs[hi] < d) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > end) hi = end;
  // docs[lo] < d, and docs[hi] >= d or hi == end
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (docs[mid] < d) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The k-th largest score among the first n docs (a lower bound of the final k-th score). */
function kthScore(acc: Float64Array, docs: Uint32Array, n: number, k: number): number {
  if (n < k) return -Infinity;
  const heap = new Float64Array(k); // min-heap of the k largest seen
  let h = 0;
  for (let i = 0; i < n; i++) {
    const s = acc[docs[i]];
    if (h < k) {
      let c = h++;
      while (c > 0 && heap[(c - 1) >> 1] > s) {
        heap[c] = heap[(c - 1) >> 1];
        c = (c - 1) >> 1;
      }
      heap[c] = s;
    } else if (s > heap[0]) {
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= k) break;
        const m = l + 1 < k && heap[l + 1] < heap[l] ? l + 1 : l;
        if (heap[m] >= s) break;
        heap[c] = heap[m];
        c = m;
      }
      heap[c] = s;
    }
  }
  return heap[0];
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
