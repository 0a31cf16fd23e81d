/**
 * Splits a context into passages of about N whitespace-separated words (DPR's 100-word unit),
 * keeping character offsets into the original text, so that an answer located by offset can be
 * mapped to the passage that holds it.
 *
 * Answer-aware: a boundary never falls inside a protected span (a gold answer). When the N-th
 * word boundary would cut a span, it moves forward to the first word that starts after the span
 * ends, so the passage grows a little. Every answer then lies wholly in one passage, and the
 * result depends only on the text and the spans: all questions of a paragraph share one set of
 * passages.
 */

/** A half-open character range [start, end) of a text. */
export interface Span {
  start: number;
  end: number;
}

/** One passage of a chunked text: `text === source.slice(start, end)`. */
export interface Chunk extends Span {
  text: string;
}

export interface ChunkResult {
  chunks: Chunk[];
  /** How many boundaries moved to keep a protected span whole. */
  boundariesMoved: number;
}

const WORD_RE = /\S+/g;

/**
 * Chunks `text` into runs of `passageWords` words (the last one may be shorter); each chunk runs
 * from its first word's first character to its last word's last character. Text without words
 * yields no chunks.
 *
 * @example
 * chunkText('a b c d e', 2).chunks.map((c) => c.text) // ['a b', 'c d', 'e']
 * chunkText('a b c d e', 2, [{ start: 2, end: 5 }]).chunks.map((c) => c.text) // ['a b c', 'd e']
 */
export function chunkText(text: string, passageWords: number, protectedSpans: readonly Span[] = []): ChunkResult {
  if (!Number.isInteger(passageWords) || passageWords < 1) throw new RangeError(`passageWords must be a positive integer, got ${passageWords}`);
  const starts: number[] = [];
  const ends: number[] = [];
  for (const m of text.matchAll(WORD_RE)) {
    starts.push(m.index);
    ends.push(m.index + m[0].length);
  }
  const words = starts.length;
  const chunks: Chunk[] = [];
  let boundariesMoved = 0;
  let first = 0;
  while (first < words) {
    let next = Math.min(first + passageWords, words);
    let moved = false;
    while (next < words) {
      // The boundary sits between word next-1 and word next; a span crossing it must stay whole.
      let cutEnd = -1;
      for (const s of protectedSpans) {
        if (s.start < starts[next] && s.end > ends[next - 1]) cutEnd = Math.max(cutEnd, s.end);
      }
      if (cutEnd < 0) break;
      moved = true;
      while (next < words && starts[next] < cutEnd) next++;
    }
    if (moved) boundariesMoved++;
    const start = starts[first];
    const end = ends[next - 1];
    chunks.push({ start, end, text: text.slice(start, end) });
    first = next;
  }
  return { chunks, boundariesMoved };
}

/**
 * Index of the chunk that wholly holds `span`, or -1 (a span in the gap between two chunks, or
 * one that crosses a boundary because it was not protected).
 *
 * @example
 * const { chunks } = chunkText('a b c d', 2); chunkIndexOf(chunks, { start: 4, end: 5 }) // 1
 */
export function chunkIndexOf(chunks: readonly Chunk[], span: Span): number {
  let lo = 0;
  let hi = chunks.length - 1;
  // Chunks are sorted and disjoint: find the last one starting at or before span.start.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (chunks[mid].start <= span.start) lo = mid;
    else hi = mid - 1;
  }
  const c = chunks[lo];
  return c !== undefined && c.start <= span.start && span.end <= c.end ? lo : -1;
}

/**
 * The span without leading and trailing whitespace (an answer " Denver" is located by its offset
 * but only its words need to stay together).
 *
 * @example
 * trimSpan('x  Denver ', { start: 1, end: 10 }) // { start: 3, end: 9 }
 */
export function trimSpan(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  return { start, end };
}
