/**
 * The Natural Questions "simplified" jsonl (`v1.0-simplified-nq-train.jsonl.gz`) → DPR records.
 *
 * Input, one example per line (gzip read directly):
 *   { example_id, question_text, document_url, document_text: "<P> The tokens ... </P> ...",
 *     long_answer_candidates: [{start_token, end_token, top_level}],
 *     annotations: [{ long_answer: {start_token, end_token, candidate_index},
 *                     short_answers: [{start_token, end_token}], yes_no_answer: "NONE"|"YES"|"NO" }] }
 * Spans are [start_token, end_token) over `document_text.split(" ")`; a missing long answer has
 * start_token -1. `example_id` exceeds 2^53, so it is read from the raw line as written.
 *
 * Output: the long answer of the first annotation that has one, HTML tokens (`<P>`, `<Td_colspan="2">`)
 * removed, split into passages of `passageWords` words; the passages holding a short answer are the
 * positive_ctxs (a short answer that crosses a passage edge joins the two passages into one positive).
 * Answers: the short answers of all annotations (text of their tokens, HTML removed), deduplicated.
 * Title: the `title=` of document_url (Wikipedia), underscores as spaces.
 *
 * Skipped, counted: no long answer; a yes/no answer without short answers (DPR and NQ-open leave
 * boolean questions out: "yes" is not a span to retrieve); a long answer without short answers;
 * short answers that all lie outside the chosen long answer.
 * Stops (InputError): invalid JSON, missing/mistyped fields, spans outside the document.
 *
 * Example: dprep convert nq --input v1.0-simplified-nq-train.jsonl.gz --out nq.dpr.jsonl --corpus nq.corpus.jsonl
 */
import type { Ctx, DprRecord } from '../types.ts';
import { parseJsonLine, readLines } from '../io/lines.ts';
import { InputError } from '../util/errors.ts';
import { convertOptions } from './common.ts';
import type { NqOptions, NqSink } from './nq-options.ts';
import type { Summary } from '../util/summary.ts';

interface Span {
  start: number;
  end: number;
}

/** True for NQ's HTML markup tokens: `<P>`, `</Table>`, `<Td_colspan="2">` (blanks became underscores). */
export function isHtmlToken(token: string): boolean {
  return token.length > 2 && token[0] === '<' && token[token.length - 1] === '>' && /^<\/?[A-Za-z][^<>]*>$/.test(token);
}

/**
 * The article title in a Wikipedia URL as NQ records it (`...index.php?title=Email_marketing&oldid=1`).
 * @example
 * titleFromUrl('https://en.wikipedia.org//w/index.php?title=The_Beatles&oldid=1') // 'The Beatles'
 */
export function titleFromUrl(url: string): string {
  let raw: string | undefined;
  const q = /[?&]title=([^&#]*)/.exec(url);
  if (q) raw = q[1];
  else {
    const wiki = /\/wiki\/([^?#]*)/.exec(url);
    if (wiki) raw = wiki[1];
  }
  if (raw === undefined) return '';
  let title: string;
  try {
    title = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    title = raw;
  }
  return title.replace(/_/g, ' ').trim();
}

/** Non-HTML tokens of tokens[start, end), with their document positions. */
function wordsOf(tokens: string[], span: Span): { words: string[]; positions: number[] } {
  const words: string[] = [];
  const positions: number[] = [];
  for (let t = span.start; t < span.end; t++) {
    if (!isHtmlToken(tokens[t])) {
      words.push(tokens[t]);
      positions.push(t);
    }
  }
  return { words, positions };
}

function readSpan(value: unknown, file: string, where: string, field: string, nTokens: number, optional: boolean): Span | undefined {
  if (typeof value !== 'object' || value === null) throw new InputError(file, where, field, 'expected an object {start_token, end_token}');
  const { start_token: start, end_token: end } = value as Record<string, unknown>;
  if (typeof start !== 'number' || !Number.isInteger(start)) throw new InputError(file, where, `${field}.start_token`, 'expected an integer');
  if (typeof end !== 'number' || !Number.isInteger(end)) throw new InputError(file, where, `${field}.end_token`, 'expected an integer');
  if (start < 0 && optional) return undefined; // NQ marks "no long answer" with -1
  if (start < 0 || end <= start || end > nTokens) {
    throw new InputError(file, where, field, `span [${start}, ${end}) is not inside the document's ${nTokens} tokens`);
  }
  return { start, end };
}

/**
 * Converts the NQ simplified jsonl(.gz). `sink.passage` receives the positive passages.
 *
 * @example
 * await convertNqSimplified('v1.0-simplified-nq-dev.jsonl.gz', sink, { passageWords: 100 });
 */
export async function convertNqSimplified(file: string, sink: NqSink, opts: NqOptions = {}): Promise<void> {
  const { summary } = sink;
  const dataset = opts.dataset ?? 'nq_simplified';
  const passageWords = opts.passageWords ?? convertOptions.passageWords.default;
  for await (const { lineNo, text } of readLines(file, opts.onRawBytes)) {
    if (text.trim() === '') continue;
    const where = `line ${lineNo}`;
    summary.read++;
    // Parsed here, not by readJsonLines: the raw text is needed for example_id below.
    const ex = parseJsonLine(text, file, lineNo) as Record<string, unknown>;
    if (typeof ex !== 'object' || ex === null || Array.isArray(ex)) throw new InputError(file, where, undefined, 'expected a JSON object (an NQ example)');
    const { question_text: question, document_text: doc, annotations, document_url: url } = ex;
    if (typeof question !== 'string') throw new InputError(file, where, 'question_text', 'expected a string');
    if (typeof doc !== 'string') throw new InputError(file, where, 'document_text', 'expected a string');
    if (!Array.isArray(annotations)) throw new InputError(file, where, 'annotations', 'expected an array');
    // JSON.parse rounds ids past 2^53; take the digits as written.
    // Copied out of the line: a V8 substring would keep the whole (~100 KB) line alive with the id.
    const exampleId = Buffer.from(/"example_id"\s*:\s*"?(-?\d+)/.exec(text)?.[1] ?? String(lineNo), 'latin1').toString('latin1');
    const label = `${where} example_id=${exampleId}`;
    const tokens = doc.split(' ');

    const { long, shorts, yesNo } = readAnnotations(annotations, file, where, tokens.length);
    if (!long) {
      summary.skip('no long answer', label);
      continue;
    }
    if (shorts.length === 0) {
      summary.skip(yesNo ? 'yes/no answer only (no short answer span)' : 'long answer without short answers', label);
      continue;
    }
    const answers = answerTexts(tokens, shorts, summary);
    if (answers.length === 0) {
      summary.skip('no non-empty answer', label);
      continue;
    }

    const positives = positivePassages(tokens, long, shorts, passageWords, exampleId, titleFromUrl(typeof url === 'string' ? url : ''));
    if (positives.length === 0) {
      summary.skip('short answers outside the long answer', label);
      continue;
    }
    const record: DprRecord = { dataset, question, answers, positive_ctxs: positives, negative_ctxs: [], hard_negative_ctxs: [], id: exampleId };
    await sink.write(record);
    summary.converted++;
    if (sink.passage) for (const c of positives) await sink.passage({ passage_id: c.passage_id, title: c.title, text: c.text });
  }
}

/** The first annotation's long answer that exists, every annotation's short answers, and whether any says yes/no. */
function readAnnotations(annotations: unknown[], file: string, where: string, nTokens: number): { long?: Span; shorts: Span[]; yesNo: boolean } {
  let long: Span | undefined;
  const shorts: Span[] = [];
  let yesNo = false;
  annotations.forEach((a: unknown, k: number) => {
    const field = `annotations[${k}]`;
    if (typeof a !== 'object' || a === null) throw new InputError(file, where, field, 'expected an object');
    const ann = a as Record<string, unknown>;
    const la = readSpan(ann.long_answer, file, where, `${field}.long_answer`, nTokens, true);
    long ??= la;
    const sa = ann.short_answers ?? [];
    if (!Array.isArray(sa)) throw new InputError(file, where, `${field}.short_answers`, 'expected an array');
    sa.forEach((s, j) => shorts.push(readSpan(s, file, where, `${field}.short_answers[${j}]`, nTokens, false)!));
    if (ann.yes_no_answer === 'YES' || ann.yes_no_answer === 'NO') yesNo = true;
  });
  return { long, shorts, yesNo };
}

/** The short answers' texts (HTML tokens removed), distinct, in order; all-HTML ones are counted and dropped. */
function answerTexts(tokens: string[], shorts: Span[], summary: Summary): string[] {
  const answers: string[] = [];
  for (const s of shorts) {
    const answer = wordsOf(tokens, s).words.join(' ');
    if (answer === '') summary.count('short answers dropped: only HTML tokens');
    else if (!answers.includes(answer)) answers.push(answer);
  }
  return answers;
}

/**
 * Splits the long answer's words into passages of `size` words and returns those that hold a
 * short answer; an answer crossing a passage edge merges the passages it touches.
 */
function positivePassages(tokens: string[], long: Span, shorts: Span[], size: number, exampleId: string, title: string): Ctx[] {
  const { words, positions } = wordsOf(tokens, long);
  // Passage index of each document token inside the long answer (HTML tokens take the next word's).
  const chunkOf = (tokenPos: number, fromEnd: boolean): number => {
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (positions[mid] < tokenPos) lo = mid + 1;
      else hi = mid;
    }
    // lo: first word at or after tokenPos. For an end bound, the last word before it.
    const w = fromEnd ? lo - 1 : lo;
    return Math.floor(w / size);
  };
  const spans: [number, number][] = [];
  for (const s of shorts) {
    if (s.start < long.start || s.end > long.end) continue;
    const first = chunkOf(s.start, false);
    const last = chunkOf(s.end, true);
    if (last >= first) spans.push([first, last]); // else: the short answer is only HTML tokens
  }
  // Merge overlapping passage ranges so each passage is one positive, once.
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const groups: [number, number][] = [];
  for (const [a, b] of spans) {
    const prev = groups[groups.length - 1];
    if (prev && a <= prev[1]) prev[1] = Math.max(prev[1], b);
    else groups.push([a, b]);
  }
  return groups.map(([a, b]) => ({
    title,
    text: words.slice(a * size, (b + 1) * size).join(' '),
    passage_id: `nq-${exampleId}-${long.start}-${a}${b > a ? `-${b}` : ''}`,
  }));
}
