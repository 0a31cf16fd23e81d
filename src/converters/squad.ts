/**
 * SQuAD v1.1 / v2.0 and PIAF (French, SQuAD format) → DPR records + a corpus of passages.
 *
 * Input: one JSON object `{"data":[{"title","paragraphs":[{"context","qas":[{"id","question",
 * "answers":[{"text","answer_start"}],"is_impossible"?,"plausible_answers"?}]}]}],"version"?}`.
 * The file is read whole: SQuAD-format files are tens of MB at most, and the answer-aware
 * chunking needs all questions of a paragraph before it can cut the paragraph.
 *
 * Output:
 * - corpus: every context split into passages of about `passageWords` words (see chunk.ts),
 *   titled with the article title (underscores shown as spaces), ids `<dataset>-<n>` in corpus
 *   order. Boundaries never cut a gold answer span (they move to the span's end; counted).
 * - records: one per answerable question; `id` = the question id, `question` trimmed, `answers`
 *   the distinct answer texts in order, `positive_ctxs` the passages that hold the answer spans
 *   by character offset (the first answer's passage first), no negatives.
 *
 * Per answer (counted in the summary's extra counts, never silently):
 * - empty text (no DPR tokens) → dropped;
 * - `answer_start` missing/null or not an integer → dropped; outside the context → dropped;
 * - `context.slice(start, start + text.length) !== text` → the nearest occurrence of the text
 *   within ±`window` characters is used ("answer_start corrected", e.g. PIAF's off-by-one);
 *   none → dropped;
 * - same text at the same start as an earlier answer → removed as duplicate;
 * - its passage does not contain it by DPR's `has_answer` (string mode; a span that is not whole
 *   tokens, such as "art" inside "party") → dropped, so every positive passes the DPR filter.
 * - with `unanswerableNegatives` N > 0: `hard_negative_ctxs` = up to N passages, in corpus order,
 *   of the same article's unanswerable paragraphs (a paragraph holding at least one v2
 *   `is_impossible` question: annotators wrote those questions against it, so it is on topic but
 *   was judged not to answer them), minus the question's own positive passages, minus every
 *   passage containing one of its answers by DPR's has_answer (string mode). Counted.
 * Per question (skipped with a reason): v2 `is_impossible` (or written to the unanswerable
 * sink), no answers given, no usable answer left, empty question, duplicate id (the later one).
 * Wrong JSON types (context not a string, qas not an array, answer_start a string ...) stop with
 * an InputError naming the JSON path, e.g. `data[3].paragraphs[1].qas[0].answers[0].answer_start`.
 */
import { readFile } from 'node:fs/promises';
import type { Ctx, DprRecord, Passage } from '../types.ts';
import { AnswerMatcher, dprTokens, isEmptyAnswer } from '../text/answer.ts';
import { assertReadableFile } from '../io/lines.ts';
import { InputError } from '../util/errors.ts';
import { Summary } from '../util/summary.ts';
import { Progress } from '../util/progress.ts';
import { chunkIndexOf, chunkText, trimSpan, type Chunk, type Span } from './chunk.ts';
import { convertOptions, type LibraryOptions } from './common.ts';

export type SquadSource = 'squad' | 'piaf';

/**
 * `convertSquad`'s options: `passageWords` and `dataset` as the convert commands declare them
 * (default 100; "squad1" / "squad2" from the file, or "piaf"), plus what only the library sets.
 */
export type SquadConvertOptions = LibraryOptions<Pick<typeof convertOptions, 'passageWords' | 'dataset'> & typeof unanswerableNegativesOption> & {
  source?: SquadSource;
  /** How far (in characters) to look for a misplaced answer around `answer_start` (default 32). */
  window?: number;
};

/** `--unanswerable-negatives N`, declared here and spread into `convert squad` / `convert piaf`. */
export const unanswerableNegativesOption = {
  unanswerableNegatives: {
    type: 'integer',
    default: 0,
    min: 0,
    help: "v2: up to N hard_negative_ctxs per question from the passages of the same article's unanswerable paragraphs (not its positives, none containing an answer), in corpus order; 0 = none",
  },
} as const;

const UNANSWERABLE_NEG = {
  added: 'unanswerable-paragraph negatives added',
  answerRemoved: 'unanswerable-paragraph passages not used: contain an answer',
  none: 'records with no unanswerable-paragraph negative',
} as const;

/** A v2 unanswerable question: no answers, no positives; SQuAD's plausible answers kept for reference. */
export type UnanswerableRecord = DprRecord & { plausible_answers: string[] };

/** Where the conversion goes; writers are called in corpus / question order. */
export interface SquadSink {
  passage(p: Passage): Promise<void>;
  record(r: DprRecord): Promise<void>;
  /** When given, v2 unanswerable questions are written here instead of skipped. */
  unanswerable?(r: UnanswerableRecord): Promise<void>;
}

const REASON = {
  unanswerable: 'unanswerable (v2 is_impossible)',
  unanswerableWritten: 'unanswerable (v2 is_impossible), written to the unanswerable output',
  noAnswers: 'no answers given',
  emptyQuestion: 'empty question',
  duplicateId: 'duplicate question id (later one skipped)',
} as const;

const ANSWER = {
  empty: 'answers dropped: empty text',
  startMissing: 'answers dropped: answer_start missing',
  startNotInteger: 'answers dropped: answer_start not an integer',
  startOutOfRange: 'answers dropped: answer_start outside the context',
  notAtStart: 'answers dropped: text not found at or near answer_start',
  notDprMatch: 'answers dropped: passage fails DPR has_answer (span not whole tokens)',
  kept: 'answers: kept (distinct spans in a positive passage)',
  corrected: 'answers: answer_start corrected',
  duplicate: 'answers: duplicates removed (same text and start)',
} as const;

type AnswerDrop = (typeof ANSWER)[Exclude<keyof typeof ANSWER, 'kept' | 'corrected' | 'duplicate'>];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Converts a SQuAD-format file; returns the summary (also counts passages and moved boundaries).
 * @example
 * const summary = await convertSquad('dev-v1.1.json', { passageWords: 100 }, { passage: ..., record: ... });
 */
export async function convertSquad(file: string, opts: SquadConvertOptions, sink: SquadSink): Promise<Summary> {
  await assertReadableFile(file);
  let root: unknown;
  try {
    let raw = await readFile(file, 'utf8');
    if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
    root = JSON.parse(raw);
  } catch (err) {
    throw new InputError(file, undefined, undefined, `invalid JSON (${(err as Error).message})`);
  }
  return convertSquadJson(root, file, opts, sink);
}

/** A paragraph's question after its answers are checked, before passages exist. */
interface PendingQuestion {
  id: string;
  question: string;
  where: string;
  answers: { text: string; start: number; span: Span }[];
  drops: AnswerDrop[];
}

/**
 * Same as `convertSquad`, for an already parsed SQuAD object; `file` names it in errors.
 * @example
 * const summary = await convertSquadJson({ version: '1.1', data: articles }, 'inline', {}, { passage: ..., record: ... });
 */
export async function convertSquadJson(root: unknown, file: string, opts: SquadConvertOptions, sink: SquadSink): Promise<Summary> {
  if (!isObj(root) || !Array.isArray(root.data)) throw new InputError(file, undefined, 'data', 'expected an object with a "data" array of articles (SQuAD format)');
  const articles = root.data;
  const dataset = opts.dataset ?? (opts.source === 'piaf' ? 'piaf' : isSquad2(root) ? 'squad2' : 'squad1');
  const run: SquadRun = {
    file,
    dataset,
    sink,
    passageWords: opts.passageWords ?? convertOptions.passageWords.default,
    window: opts.window ?? 32,
    summary: new Summary(`convert ${opts.source ?? 'squad'} (${dataset})`, [file]),
    progress: new Progress(`convert ${opts.source ?? 'squad'}`, { total: countQuestions(articles), unit: 'questions' }),
    seenIds: new Set(),
    passageCount: 0,
    boundariesMoved: 0,
    unanswerableNegatives: opts.unanswerableNegatives ?? 0,
  };
  for (let a = 0; a < articles.length; a++) {
    const { title, paragraphs } = checkArticle(articles[a], `data[${a}]`, file);
    // With unanswerable negatives, an article's records wait for all its paragraphs (a later one may feed an earlier question).
    const held: DprRecord[] = [];
    const pool: Ctx[] = [];
    for (let p = 0; p < paragraphs.length; p++) {
      const pPath = `data[${a}].paragraphs[${p}]`;
      const { context, qas } = checkParagraph(paragraphs[p], pPath, file);
      // Pass 1 checks every question's answers, so the chunker knows which spans to keep whole.
      const pending: PendingQuestion[] = [];
      for (let q = 0; q < qas.length; q++) {
        const checked = await checkQuestion(run, qas[q], `${pPath}.qas[${q}]`, context);
        if (checked) pending.push(checked);
      }
      const { records, ctxs } = await writeParagraph(run, context, title, pending);
      if (run.unanswerableNegatives === 0) for (const r of records) await sink.record(r);
      else {
        held.push(...records);
        if (qas.some((q) => isObj(q) && q.is_impossible === true)) pool.push(...ctxs);
      }
    }
    for (const r of held) await sink.record(addUnanswerableNegatives(run, r, pool));
  }
  run.progress.finish();
  run.summary.count('passages written', run.passageCount);
  run.summary.count('chunk boundaries moved to keep an answer whole', run.boundariesMoved);
  return run.summary;
}

/** One conversion's settings, sink and running counts, shared by its phases. */
interface SquadRun {
  file: string;
  dataset: string;
  sink: SquadSink;
  passageWords: number;
  window: number;
  summary: Summary;
  progress: Progress;
  seenIds: Set<string>;
  passageCount: number;
  boundariesMoved: number;
  unanswerableNegatives: number;
}

/** Fills `hard_negative_ctxs` from the article's unanswerable-paragraph passages (see the module doc). */
function addUnanswerableNegatives(run: SquadRun, record: DprRecord, pool: readonly Ctx[]): DprRecord {
  const positives = new Set(record.positive_ctxs.map((c) => c.passage_id));
  const matcher = new AnswerMatcher(record.answers);
  const negatives: Ctx[] = [];
  for (const c of pool) {
    if (negatives.length >= run.unanswerableNegatives) break;
    if (positives.has(c.passage_id)) continue;
    if (matcher.matches(c.text)) {
      run.summary.count(UNANSWERABLE_NEG.answerRemoved);
      continue;
    }
    negatives.push({ ...c });
  }
  run.summary.count(UNANSWERABLE_NEG.added, negatives.length);
  if (negatives.length === 0) run.summary.count(UNANSWERABLE_NEG.none);
  return { ...record, hard_negative_ctxs: negatives };
}

/** An InputError at a JSON path, naming the last key as the field. */
const failAt = (file: string, path: string, problem: string) => new InputError(file, path, path.slice(path.lastIndexOf('.') + 1), problem);

function checkArticle(article: unknown, aPath: string, file: string): { title: string; paragraphs: unknown[] } {
  if (!isObj(article)) throw new InputError(file, aPath, undefined, 'expected an object {title, paragraphs}');
  if (typeof article.title !== 'string') throw failAt(file, `${aPath}.title`, 'expected a string');
  if (!Array.isArray(article.paragraphs)) throw failAt(file, `${aPath}.paragraphs`, 'expected an array');
  return { title: article.title.replace(/_/g, ' '), paragraphs: article.paragraphs };
}

function checkParagraph(paragraph: unknown, pPath: string, file: string): { context: string; qas: unknown[] } {
  if (!isObj(paragraph)) throw new InputError(file, pPath, undefined, 'expected an object {context, qas}');
  const { context, qas } = paragraph;
  if (typeof context !== 'string') throw failAt(file, `${pPath}.context`, 'expected a string');
  if (!Array.isArray(qas)) throw failAt(file, `${pPath}.qas`, 'expected an array');
  return { context, qas };
}

/**
 * Pass 1 for one question: checks its types, skips it with a reason (duplicate id, empty,
 * unanswerable, no answers) or returns it with its located, deduplicated answer spans.
 */
async function checkQuestion(run: SquadRun, qa: unknown, qPath: string, context: string): Promise<PendingQuestion | undefined> {
  const { file, summary } = run;
  summary.read++;
  run.progress.tick(1);
  if (!isObj(qa)) throw new InputError(file, qPath, undefined, 'expected an object {id, question, answers}');
  if (typeof qa.id !== 'string' && typeof qa.id !== 'number') throw failAt(file, `${qPath}.id`, 'expected a string');
  if (typeof qa.question !== 'string') throw failAt(file, `${qPath}.question`, 'expected a string');
  if (qa.is_impossible !== undefined && typeof qa.is_impossible !== 'boolean') throw failAt(file, `${qPath}.is_impossible`, 'expected true or false');
  if (qa.answers !== undefined && !Array.isArray(qa.answers)) throw failAt(file, `${qPath}.answers`, 'expected an array');
  const id = String(qa.id);
  const where = `${qPath} id=${id}`;
  if (run.seenIds.has(id)) return void summary.skip(REASON.duplicateId, where);
  run.seenIds.add(id);
  const question = qa.question.trim();
  if (question === '') return void summary.skip(REASON.emptyQuestion, where);
  if (qa.is_impossible === true) {
    if (!run.sink.unanswerable) return void summary.skip(REASON.unanswerable, where);
    const plausible_answers = plausibleTexts(qa.plausible_answers);
    await run.sink.unanswerable({ dataset: run.dataset, question, answers: [], positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [], id, plausible_answers });
    return void summary.skip(REASON.unanswerableWritten, where);
  }
  const answers = (qa.answers ?? []) as unknown[];
  if (answers.length === 0) return void summary.skip(REASON.noAnswers, where);
  const checked: PendingQuestion = { id, question, where, answers: [], drops: [] };
  const seenSpans = new Set<string>();
  for (let i = 0; i < answers.length; i++) {
    const located = locateAnswer(answers[i], context, `${qPath}.answers[${i}]`, run.window, (path, problem) => failAt(file, path, problem));
    if (typeof located === 'string') {
      summary.count(located);
      checked.drops.push(located);
      continue;
    }
    if (located.corrected) summary.count(ANSWER.corrected);
    const key = `${located.start}:${located.text}`;
    if (seenSpans.has(key)) {
      summary.count(ANSWER.duplicate);
      continue;
    }
    seenSpans.add(key);
    const span = trimSpan(context, { start: located.start, end: located.start + located.text.length });
    checked.answers.push({ text: located.text, start: located.start, span });
  }
  return checked;
}

/**
 * Pass 2 for one paragraph: cuts it once, keeping every gold span whole, writes its passages,
 * then returns each question's record with the passages that hold its answers (by DPR's has_answer).
 */
async function writeParagraph(run: SquadRun, context: string, title: string, pending: PendingQuestion[]): Promise<{ records: DprRecord[]; ctxs: Ctx[] }> {
  const { summary, sink, dataset } = run;
  const records: DprRecord[] = [];
  const spans = pending.flatMap((q) => q.answers.map((x) => x.span));
  const { chunks, boundariesMoved } = chunkText(context, run.passageWords, spans);
  run.boundariesMoved += boundariesMoved;
  const ctxs: Ctx[] = [];
  for (const chunk of chunks) {
    const passage: Passage = { passage_id: `${dataset}-${run.passageCount++}`, title, text: chunk.text };
    await sink.passage(passage);
    ctxs.push({ title, text: chunk.text, passage_id: passage.passage_id });
  }
  const tokenCache = new Map<number, string[]>();
  const tokensOf = (i: number, c: Chunk) => {
    let t = tokenCache.get(i);
    if (!t) tokenCache.set(i, (t = dprTokens(c.text)));
    return t;
  };
  for (const q of pending) {
    const texts: string[] = [];
    const positives: number[] = [];
    for (const answer of q.answers) {
      const ci = chunkIndexOf(chunks, answer.span);
      // Cannot happen for a protected span; guard so a chunker bug cannot make a wrong positive.
      if (ci < 0) throw new Error(`internal: answer span ${answer.span.start}-${answer.span.end} of ${q.where} is not inside one passage`);
      if (!new AnswerMatcher([answer.text]).matchesTokens(tokensOf(ci, chunks[ci]))) {
        summary.count(ANSWER.notDprMatch);
        q.drops.push(ANSWER.notDprMatch);
        continue;
      }
      summary.count(ANSWER.kept);
      if (!texts.includes(answer.text)) texts.push(answer.text);
      if (!positives.includes(ci)) positives.push(ci);
    }
    if (texts.length === 0) {
      const reasons = [...new Set(q.drops)];
      summary.skip(`no usable answer: ${reasons.length === 1 ? reasons[0].replace(/^answers dropped: /, '') : 'mixed reasons'}`, q.where);
      continue;
    }
    const positive_ctxs = positives.map((i) => ({ ...ctxs[i] }));
    records.push({ dataset, question: q.question, answers: texts, positive_ctxs, negative_ctxs: [], hard_negative_ctxs: [], id: q.id });
    summary.converted++;
  }
  return { records, ctxs };
}

/**
 * Checks one answer against its context. Returns the answer's text and (possibly corrected)
 * start, or the reason it is dropped; wrong JSON types throw.
 */
function locateAnswer(
  answer: unknown,
  context: string,
  path: string,
  window: number,
  fail: (path: string, problem: string) => InputError,
): { text: string; start: number; corrected: boolean } | AnswerDrop {
  if (!isObj(answer)) throw fail(path, 'expected an object {text, answer_start}');
  const { text, answer_start: start } = answer;
  if (typeof text !== 'string') throw fail(`${path}.text`, 'expected a string');
  if (start !== undefined && start !== null && typeof start !== 'number') throw fail(`${path}.answer_start`, 'expected an integer character offset');
  if (isEmptyAnswer(text)) return ANSWER.empty;
  if (start === undefined || start === null) return ANSWER.startMissing;
  if (!Number.isInteger(start)) return ANSWER.startNotInteger;
  if (start < 0 || start >= context.length) return ANSWER.startOutOfRange;
  if (context.startsWith(text, start)) return { text, start, corrected: false };
  // Nearest occurrence within the window; on a tie, the earlier one.
  for (let d = 1; d <= window; d++) {
    for (const at of [start - d, start + d]) {
      if (at >= 0 && context.startsWith(text, at)) return { text, start: at, corrected: true };
    }
  }
  return ANSWER.notAtStart;
}

function plausibleTexts(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const texts: string[] = [];
  for (const a of value) if (isObj(a) && typeof a.text === 'string' && !texts.includes(a.text)) texts.push(a.text);
  return texts;
}

/** v2 when the file says so, or when any question carries `is_impossible` (the PT file has no version key). */
function isSquad2(root: Record<string, unknown>): boolean {
  if (typeof root.version === 'string') return /^v?2/.test(root.version);
  for (const article of root.data as unknown[]) {
    if (!isObj(article) || !Array.isArray(article.paragraphs)) continue;
    for (const p of article.paragraphs) {
      if (isObj(p) && Array.isArray(p.qas) && p.qas.some((q) => isObj(q) && 'is_impossible' in q)) return true;
    }
  }
  return false;
}

function countQuestions(articles: unknown[]): number {
  let n = 0;
  for (const a of articles) {
    if (!isObj(a) || !Array.isArray(a.paragraphs)) continue;
    for (const p of a.paragraphs) if (isObj(p) && Array.isArray(p.qas)) n += p.qas.length;
  }
  return n;
}
