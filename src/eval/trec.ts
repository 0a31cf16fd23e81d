/**
 * TREC run files and qrels, read and written the way trec_eval reads them.
 *
 * Run line:   `qid Q0 docid rank score tag` (whitespace-separated; the rank column is ignored:
 *             trec_eval orders by score descending, ties by docid descending, byte order).
 * Qrels line: `qid 0 docid rel` or `qid Q0 docid rel` (TREC), or `qid\tdocid\trel` (BEIR / MS MARCO
 *             TSV, header line optional). Relevance is an integer; rel >= 1 counts as relevant.
 */
import { readLines } from '../io/lines.ts';
import { AtomicFile } from '../io/atomic.ts';
import { InputError } from '../util/errors.ts';

/** One retrieved document of a run. */
export interface RunEntry {
  docid: string;
  score: number;
}

/** qid → entries in trec_eval's order (score descending, ties by docid descending). */
export type Run = Map<string, RunEntry[]>;

/** qid → docid → relevance grade. */
export type Qrels = Map<string, Map<string, number>>;

/** trec_eval's ranking order: score descending, then docid descending (strcmp on bytes). */
export function compareRunEntries(a: RunEntry, b: RunEntry): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0;
}

/**
 * Reads a TREC run file; each query's entries come back sorted as trec_eval sorts them.
 * @example const run = await readRun('dev.trec'); run.get('1048585')?.[0].docid
 */
export async function readRun(file: string): Promise<Run> {
  const run: Run = new Map();
  const seen = new Map<string, Set<string>>();
  for await (const { lineNo, text } of readLines(file)) {
    if (text.trim() === '') continue;
    const cols = text.trim().split(/\s+/);
    if (cols.length !== 6) {
      throw new InputError(file, `line ${lineNo}`, undefined, `expected 6 columns "qid Q0 docid rank score tag", got ${cols.length}`);
    }
    const [qid, , docid, , scoreText] = cols;
    const score = Number(scoreText);
    if (!Number.isFinite(score)) throw new InputError(file, `line ${lineNo}`, 'score', `expected a number, got "${scoreText}"`);
    let docs = seen.get(qid);
    if (!docs) seen.set(qid, (docs = new Set()));
    // trec_eval refuses a run that lists a document twice for a query: the metrics would be ill-defined.
    if (docs.has(docid)) throw new InputError(file, `line ${lineNo}`, 'docid', `document "${docid}" appears twice for query "${qid}"`);
    docs.add(docid);
    let list = run.get(qid);
    if (!list) run.set(qid, (list = []));
    list.push({ docid, score });
  }
  for (const list of run.values()) list.sort(compareRunEntries);
  return run;
}

/**
 * Reads qrels in TREC (`qid 0|Q0 docid rel`) or TSV (`qid\tdocid\trel`, optional header) layout.
 * @example const qrels = await readQrels('qrels.dev.tsv'); qrels.get('300674')?.get('7067032') // 1
 */
export async function readQrels(file: string): Promise<Qrels> {
  const qrels: Qrels = new Map();
  for await (const { lineNo, text } of readLines(file)) {
    if (text.trim() === '') continue;
    const cols = text.trim().split(/\s+/);
    let qid: string, docid: string, relText: string;
    if (cols.length === 4) [qid, , docid, relText] = cols;
    else if (cols.length === 3) [qid, docid, relText] = cols;
    else throw new InputError(file, `line ${lineNo}`, undefined, `expected "qid 0 docid rel" or "qid<TAB>docid<TAB>rel", got ${cols.length} columns`);
    const rel = Number(relText);
    if (!Number.isInteger(rel)) {
      // A BEIR header (`query-id corpus-id score`) is the only non-numeric line accepted, and only first.
      if (lineNo === 1) continue;
      throw new InputError(file, `line ${lineNo}`, 'rel', `expected an integer relevance, got "${relText}"`);
    }
    let docs = qrels.get(qid);
    if (!docs) qrels.set(qid, (docs = new Map()));
    docs.set(docid, rel);
  }
  return qrels;
}

/**
 * Writes a run file atomically, ranks 1-based in the given order.
 * @example await writeRun('dev.trec', new Map([['q1', [{ docid: 'd3', score: 12.5 }]]]), 'dense-stage2');
 */
export async function writeRun(file: string, run: Run, tag = 'dprep'): Promise<void> {
  const out = await AtomicFile.create(file);
  try {
    for (const [qid, entries] of run) {
      assertToken(file, qid, 'qid');
      let chunk = '';
      for (const e of entries) assertToken(file, e.docid, 'docid');
      entries.forEach((e, i) => (chunk += `${qid} Q0 ${e.docid} ${i + 1} ${formatScore(e.score)} ${tag}\n`));
      await out.write(chunk);
    }
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

/**
 * Writes qrels in TREC layout (`qid 0 docid rel`).
 * @example await writeQrels('qrels.dev.txt', new Map([['q1', new Map([['p7', 1]])]]));
 */
export async function writeQrels(file: string, qrels: Qrels): Promise<void> {
  const out = await AtomicFile.create(file);
  try {
    for (const [qid, docs] of qrels) for (const [docid, rel] of docs) await out.write(`${qid} 0 ${docid} ${rel}\n`);
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

// A run file is whitespace-separated: an id with a space would shift every column after it.
function assertToken(file: string, value: string, field: string): void {
  if (value === '' || /\s/.test(value)) throw new InputError(file, undefined, field, `"${value}" cannot be written to a TREC file (empty or contains whitespace)`);
}

// Enough digits that a float32 score read back sorts exactly as it did before writing.
function formatScore(score: number): string {
  return Number.isInteger(score) ? String(score) : score.toPrecision(9).replace(/\.?0+$/, '');
}
