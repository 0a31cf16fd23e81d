/**
 * Exact top-k BM25 with MaxScore (document at a time). Query terms are ordered by their largest
 * impact; once the current k-th score θ exceeds what the weakest lists could add together, those
 * lists stop producing candidates and are only probed (galloping search) for docs found in the
 * others, and a probe stops as soon as the doc cannot reach θ. Common terms, whose long lists
 * carry small impacts, are thus mostly skipped. The top k equals the exhaustive one (tested);
 * ties are broken by doc number (corpus order), so results do not depend on the thread.
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
  /** Candidate docs taken from essential lists, over all queries (for benchmarks). */
  candidates = 0;

  constructor(private readonly p: PostingsArrays) {
    this.acc = new Float64Array(p.docCount);
  }

  /** Exact top k, best first (MaxScore, document at a time). */
  topK(q: TermQuery, k: number): TopK {
    const { offsets, docs, impacts, maxImpacts } = this.p;
    const m = q.ids.length;
    if (m === 0 || k <= 0) return { docs: new Uint32Array(0), scores: new Float64Array(0) };
    // Lists by increasing upper bound: the reverse of the canonical summation order.
    const order = termOrder(q, maxImpacts).reverse();
    const w = new Float64Array(m);
    const pos = new Float64Array(m);
    const end = new Float64Array(m);
    const cum = new Float64Array(m); // cum[i] = bound of lists 0..i
    let sum = 0;
    for (let i = 0; i < m; i++) {
      const t = q.ids[order[i]];
      w[i] = q.weights[order[i]];
      pos[i] = offsets[t];
      end[i] = offsets[t + 1];
      cum[i] = sum += w[i] * maxImpacts[t];
    }
    const contrib = new Float64Array(m);
    const heap = new TopHeap(k);
    // θ: a lower bound of the final k-th score. Seeded from the full scores of the docs of the
    // strongest (short) lists, so the long lists of common terms are non-essential from the start.
    const seedTheta = this.seedThreshold(w, pos, end, k);
    let theta = seedTheta;
    let essential = 0; // lists [0, essential) alone cannot reach θ: they are only probed
    while (essential < m && cum[essential] < theta - slack(theta)) essential++;
    for (;;) {
      // Next candidate: the smallest current doc of the essential lists.
      let d = 0xffffffff;
      for (let i = essential; i < m; i++) if (pos[i] < end[i] && docs[pos[i]] < d) d = docs[pos[i]];
      if (d === 0xffffffff) break;
      this.candidates++;
      let partial = 0;
      for (let i = essential; i < m; i++) {
        contrib[i] = 0;
        if (pos[i] < end[i] && docs[pos[i]] === d) {
          contrib[i] = w[i] * impacts[pos[i]];
          partial += contrib[i];
          pos[i]++;
        }
      }
      let possible = true;
      for (let i = essential - 1; i >= 0; i--) {
        contrib[i] = 0;
        if (partial + cum[i] < theta - slack(theta)) {
          possible = false;
          break;
        }
        pos[i] = gallop(docs, pos[i], end[i], d);
        if (pos[i] < end[i] && docs[pos[i]] === d) {
          contrib[i] = w[i] * impacts[pos[i]];
          partial += contrib[i];
        }
      }
      if (!possible) continue;
      // Canonical order (largest bound first), so scores equal the exhaustive sums bit for bit.
      let score = 0;
      for (let i = m - 1; i >= 0; i--) if (contrib[i] !== 0) score += contrib[i];
      if (heap.offer(score, d) && heap.full) {
        theta = Math.max(heap.minScore(), seedTheta);
        while (essential < m && cum[essential] < theta - slack(theta)) essential++;
      }
    }
    if (essential > 0) this.prunedQueries++;
    return heap.sorted();
  }

  /**
   * The k-th best partial score (strongest lists only, taken while they stay short) or -Infinity
   * when they hold fewer than k docs. Partial scores are lower bounds of k real scores, so the
   * result bounds the final k-th score from below.
   */
  private seedThreshold(w: Float64Array, start: Float64Array, end: Float64Array, k: number): number {
    const { docs, impacts } = this.p;
    const acc = this.acc;
    let n = 0;
    for (let i = w.length - 1; i >= 0 && n < k; i--) {
      if (end[i] - start[i] + n > 16 * k + 16384) break;
      if (n + (end[i] - start[i]) > this.touched.length) this.grow(n + (end[i] - start[i]), n);
      for (let q = start[i]; q < end[i]; q++) {
        const d = docs[q];
        if (acc[d] === 0) this.touched[n++] = d;
        acc[d] += w[i] * impacts[q];
      }
    }
    let theta = -Infinity;
    if (n >= k) {
      const scores = new Float64Array(n);
      for (let j = 0; j < n; j++) scores[j] = acc[this.touched[j]];
      theta = scores.sort()[n - k];
    }
    for (let j = 0; j < n; j++) acc[this.touched[j]] = 0;
    return theta;
  }

  /**
   * BM25 scores of given docs for a query, whether or not they make its top k (mining's margins
   * need every positive's score). Each term's postings are binary-searched for the doc; sums are
   * taken in topK's order, so a doc's score equals its topK score bit for bit. 0 when no term matches.
   * @example scorer.scoreDocs(query, [17, 4]) // Float64Array [score of doc 17, score of doc 4]
   */
  scoreDocs(q: TermQuery, targets: readonly number[]): Float64Array {
    const { offsets, docs, impacts } = this.p;
    const order = termOrder(q, this.p.maxImpacts);
    return Float64Array.from(targets, (d) => {
      let score = 0;
      for (const j of order) {
        const t = q.ids[j];
        const end = offsets[t + 1];
        const at = gallop(docs, offsets[t], end, d);
        if (at < end && docs[at] === d) score += q.weights[j] * impacts[at];
      }
      return score;
    });
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

/** Min-heap of the best k (score desc, doc asc); the root is the worst kept. */
class TopHeap {
  private readonly s: Float64Array;
  private readonly d: Uint32Array;
  private n = 0;
  constructor(private readonly k: number) {
    this.s = new Float64Array(k);
    this.d = new Uint32Array(k);
  }
  get full(): boolean {
    return this.n === this.k;
  }
  minScore(): number {
    return this.s[0];
  }
  /** Adds (score, doc) if it belongs in the top k; true when it was kept. */
  offer(score: number, doc: number): boolean {
    const { s, d } = this;
    if (this.n < this.k) {
      let c = this.n++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!worse(score, doc, s[parent], d[parent])) break;
        s[c] = s[parent];
        d[c] = d[parent];
        c = parent;
      }
      s[c] = score;
      d[c] = doc;
      return true;
    }
    if (!worse(s[0], d[0], score, doc)) return false;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= this.k) break;
      const r = l + 1;
      const m = r < this.k && worse(s[r], d[r], s[l], d[l]) ? r : l;
      if (!worse(s[m], d[m], score, doc)) break;
      s[c] = s[m];
      d[c] = d[m];
      c = m;
    }
    s[c] = score;
    d[c] = doc;
    return true;
  }
  sorted(): TopK {
    const idx = Array.from({ length: this.n }, (_, i) => i).sort((a, b) => this.s[b] - this.s[a] || this.d[a] - this.d[b]);
    return { docs: Uint32Array.from(idx, (i) => this.d[i]), scores: Float64Array.from(idx, (i) => this.s[i]) };
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
