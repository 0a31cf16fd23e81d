/**
 * MS MARCO passage ranking → DPR records + corpus.
 *
 * Inputs:
 * - collection: `pid\tpassage` per line (collection.tsv; gzip read directly). Not CSV-quoted: a
 *   passage may start with a literal `"`, so lines are split at tabs, never parsed as quoted TSV.
 *   Three columns (OpenMatch / RocketQA `id\ttitle\ttext`, or `id\ttext\ttitle`) are read as a
 *   header row or `--columns` says; without either, a 3-column line is an error, not a guess.
 *   A `.jsonl` or `.parquet` corpus (BEIR corpus.jsonl: `_id`, `title`, `text`) is read as a dprep corpus.
 * - queries: `qid\tquery` per line (CRLF ok), or BEIR queries.jsonl (`{"_id", "text", "metadata"?}`,
 *   by the .jsonl extension); queries are trimmed.
 * - qrels: any layout seen in the wild, per line: TREC `qid 0 pid rel` / `qid Q0 pid rel`, or
 *   `qid pid rel`; tabs or spaces; a header line (non-numeric relevance on line 1) is skipped.
 *   rel > 0 is a positive; rel <= 0 lines are counted and not used.
 * - negatives (optional): `qid\tpid,pid,...` (the official BM25 negatives layout) or the
 *   qidpidtriples layout `qid\tpos\tneg` (the pos column is ignored: positives come from qrels).
 *
 * Output: one record per query with at least one positive passage in the collection, in the
 * order of the queries file: `id` = qid, `answers: []` (MS MARCO passage has no answer strings,
 * so answer filtering downstream falls back to excluding the positive ids), `positive_ctxs` from
 * qrels (title ""), negatives as `hard_negative_ctxs` or `negative_ctxs` (or dropped), at most
 * `negativesPerQuery` each, in file order, without positives or repeats. The corpus output is
 * the whole collection, written while it streams.
 *
 * Memory: the collection (8.8M passages, 3 GB) is streamed once; only the texts of passages some
 * record needs are kept. qrels and negatives are read first to know which those are.
 */
import { extname } from 'node:path';
import type { Ctx, DprRecord, Passage } from '../types.ts';
import { assertReadableFile, readLines } from '../io/lines.ts';
import { readCorpus } from '../io/corpus.ts';
import { corpusColumnsOptions, corpusHeaderLayout, type CorpusColumns } from '../io/corpus-columns.ts';
import { readJsonLines } from '../io/lines.ts';
import { InputError } from '../util/errors.ts';
import { Progress } from '../util/progress.ts';
import { Summary } from '../util/summary.ts';
import type { OptionsSpec } from '../options.ts';
import type { convertOptions, LibraryOptions } from './common.ts';

/**
 * The source options of `dprep convert msmarco`, declared once: the command spreads them (with
 * the shared output options) and the library options type below derives from them.
 */
export const msmarcoOptions = {
  collection: { type: 'string', required: true, role: 'input', help: 'collection.tsv (pid<TAB>passage; 3 columns with a header or --columns), or a .jsonl / .parquet corpus (BEIR corpus.jsonl)' },
  ...corpusColumnsOptions,
  queries: { type: 'string', required: true, role: 'input', help: 'queries: TSV (qid<TAB>query) or BEIR queries.jsonl ({"_id", "text"})' },
  qrels: { type: 'string', required: true, role: 'input', help: 'qrels (TREC or TSV layout, header optional)' },
  negatives: { type: 'string', role: 'input', help: 'negatives: qid<TAB>pid,pid,... or qidpidtriples (qid<TAB>pos<TAB>neg)' },
  officialNegatives: { type: 'string', choices: ['hard', 'negative', 'none'] as const, default: 'hard', help: 'put the --negatives passages in hard_negative_ctxs, negative_ctxs, or drop them' },
  negativesPerQuery: { type: 'integer', default: 30, min: 0, help: 'most negatives kept per query, first in the file (0 = all)' },
} as const satisfies OptionsSpec;

/** Where the negatives file's passages go: hard_negative_ctxs, negative_ctxs, or nowhere. */
export type OfficialNegatives = (typeof msmarcoOptions.officialNegatives.choices)[number];

/** `convertMsmarco`'s options: the command's declarations plus `dataset` (default "msmarco"). */
export type MsmarcoConvertOptions = LibraryOptions<typeof msmarcoOptions & Pick<typeof convertOptions, 'dataset'>>;

export interface MsmarcoSink {
  /** Every collection passage, in collection order (for the corpus output). */
  passage?(p: Passage): Promise<void>;
  record(r: DprRecord): Promise<void>;
}

/** One relevance judgement. */
export interface Qrel {
  qid: string;
  pid: string;
  rel: number;
}

/**
 * Parses one qrels line in any of the layouts MS MARCO / TREC / BEIR files use; null for a blank line.
 * Throws a plain Error with the problem (the caller adds file and line).
 * @example
 * parseQrelsLine('19335 Q0 1720389 2') // { qid: '19335', pid: '1720389', rel: 2 }
 * parseQrelsLine('19335\t1720389\t1')  // { qid: '19335', pid: '1720389', rel: 1 }
 */
export function parseQrelsLine(text: string): Qrel | null {
  const fields = text.trim().split(/\s+/);
  if (fields.length === 1 && fields[0] === '') return null;
  let qid: string, pid: string, rel: string;
  if (fields.length === 4) [qid, , pid, rel] = fields;
  else if (fields.length === 3) [qid, pid, rel] = fields;
  else throw new Error(`expected "qid 0 pid rel" or "qid pid rel", got ${fields.length} fields`);
  const n = Number(rel);
  if (rel === '' || !Number.isFinite(n)) throw new Error(`relevance "${rel}" is not a number`);
  return { qid, pid, rel: n };
}

/**
 * The passage ids of one negatives line: `qid\tpid,pid,...` or a qidpidtriples row `qid\tpos\tneg`.
 * @example
 * parseNegativesLine('3\t10,11,12') // { qid: '3', pids: ['10', '11', '12'] }
 * parseNegativesLine('3\t7\t12')    // { qid: '3', pids: ['12'] }
 */
export function parseNegativesLine(text: string): { qid: string; pids: string[] } | null {
  if (text.trim() === '') return null;
  const fields = text.split('\t').map((f) => f.trim());
  if (fields.length === 2) return { qid: fields[0], pids: fields[1].split(/[,\s]+/).filter((p) => p !== '') };
  if (fields.length === 3) {
    // triples.train.small.tsv holds texts, not ids: say so rather than treating words as pids.
    if (/\s/.test(fields[1]) || /\s/.test(fields[2])) throw new Error('looks like a text triples file (query, passage, passage); expected qid\\tpos_pid\\tneg_pid ids');
    return { qid: fields[0], pids: [fields[2]] };
  }
  throw new Error(`expected "qid<TAB>pid,pid,..." or "qid<TAB>pos<TAB>neg", got ${fields.length} tab-separated fields`);
}

/**
 * A set of passage ids that stays small at MS MARCO scale: canonical integers (MS MARCO's pids
 * are 0..8.8M) are bits in a byte array, anything else goes to a Set.
 */
class IdSet {
  private bits = new Uint8Array(1 << 16);
  private readonly others = new Set<string>();

  private static asIndex(id: string): number {
    return /^(0|[1-9]\d{0,8})$/.test(id) ? Number(id) : -1;
  }

  add(id: string): void {
    const i = IdSet.asIndex(id);
    if (i < 0) {
      this.others.add(id);
      return;
    }
    if (i >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (i >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[i >> 3] |= 1 << (i & 7);
  }

  has(id: string): boolean {
    const i = IdSet.asIndex(id);
    if (i < 0) return this.others.has(id);
    return i >> 3 < this.bits.length && (this.bits[i >> 3] & (1 << (i & 7))) !== 0;
  }
}

const EXTRA = {
  qrelsHeader: 'qrels lines: header skipped',
  qrelsNotRelevant: 'qrels lines: not relevant (rel <= 0), not used',
  qrelsUnknownQuery: 'qrels lines: qid not in the queries file',
  qrelsDuplicate: 'qrels lines: repeated (qid, pid), not used',
  positiveMissing: 'positives dropped: pid not in the collection',
  negativesMissing: 'negatives dropped: pid not in the collection',
  negativesPositive: 'negatives dropped: also a positive of the query',
  negativesRepeated: 'negatives dropped: repeated for the query',
  negativesOverCap: 'negatives dropped: over --negatives-per-query',
  negativesUnknownQuery: 'negatives lines: qid without a converted query',
  duplicatePid: 'collection: repeated pid (later passage not used)',
  passages: 'collection passages (corpus)',
} as const;

const REASON = {
  noQrels: 'no relevant passage in qrels',
  noPositiveInCollection: 'no positive passage in the collection',
  emptyQuery: 'empty query',
  duplicateQid: 'duplicate qid (later one skipped)',
} as const;

interface PendingQuery {
  qid: string;
  question: string;
  positives: string[];
  negatives: string[];
  /** Built once a query has many negatives (no cap), so repeat checks stay O(1). */
  negativeSet?: Set<string>;
}

function hasNegative(q: PendingQuery, pid: string): boolean {
  if (q.negatives.length < 64) return q.negatives.includes(pid);
  q.negativeSet ??= new Set(q.negatives);
  // Keep the set in step with the list: every pid pushed after it was built is added here.
  for (let i = q.negativeSet.size; i < q.negatives.length; i++) q.negativeSet.add(q.negatives[i]);
  return q.negativeSet.has(pid);
}

/**
 * Converts MS MARCO passage ranking files; returns the summary (one `read` per queries line).
 * @example
 * await convertMsmarco({ collection: 'collection.tsv', queries: 'queries.train.tsv', qrels: 'qrels.train.tsv' }, { record: ... });
 */
export async function convertMsmarco(opts: MsmarcoConvertOptions, sink: MsmarcoSink): Promise<Summary> {
  const negativesTo = opts.officialNegatives ?? msmarcoOptions.officialNegatives.default;
  const inputs = [opts.collection, opts.queries, opts.qrels, ...(opts.negatives ? [opts.negatives] : [])];
  for (const f of inputs) await assertReadableFile(f);
  const summary = new Summary('convert msmarco', inputs);

  // qrels are only held while queries are read: the collection pass needs the memory.
  const pending = await readQueries(opts.queries, await readRelevant(opts.qrels, summary), summary);
  if (opts.negatives && negativesTo !== 'none') await readNegatives(opts.negatives, pending, opts.negativesPerQuery ?? msmarcoOptions.negativesPerQuery.default, summary);
  const texts = await streamCollection(opts.collection, opts.columns, pending, sink, summary);
  await writeRecords(pending, texts, opts.dataset ?? 'msmarco', negativesTo, sink, summary);
  for (const [k, v] of [...summary.extra]) if (v === 0) summary.extra.delete(k);
  return summary;
}

/** 1. qrels: positives per qid, in judgement order, repeats dropped; qids in first-judged order. */
async function readRelevant(file: string, summary: Summary): Promise<Map<string, string[]>> {
  const relevant = new Map<string, string[]>();
  const judged = new Set<string>();
  for await (const { lineNo, text } of readLines(file)) {
    let qrel: Qrel | null;
    try {
      qrel = parseQrelsLine(text);
    } catch (err) {
      // BEIR qrels start with a "query-id corpus-id score" header; only line 1 may be one.
      if (lineNo === 1 && /^\S+\s+\S+\s+(\S+\s+)?[^\d\s.+-]\S*\s*$/.test(text)) {
        summary.count(EXTRA.qrelsHeader);
        continue;
      }
      throw new InputError(file, `line ${lineNo}`, undefined, (err as Error).message);
    }
    if (!qrel) continue;
    const key = `${qrel.qid}\t${qrel.pid}`;
    if (judged.has(key)) {
      summary.count(EXTRA.qrelsDuplicate);
      continue;
    }
    judged.add(key);
    if (qrel.rel <= 0) {
      summary.count(EXTRA.qrelsNotRelevant);
      continue;
    }
    let list = relevant.get(qrel.qid);
    if (!list) relevant.set(qrel.qid, (list = []));
    list.push(qrel.pid);
  }
  return relevant;
}

/** 2. queries, in file order; only those with positives are kept in memory (by qid, in file order). */
async function readQueries(file: string, relevant: Map<string, string[]>, summary: Summary): Promise<Map<string, PendingQuery>> {
  const pending = new Map<string, PendingQuery>();
  const seenQids = new Set<string>();
  for await (const { lineNo, qid, question } of readQueryLines(file)) {
    const where = `${file} line ${lineNo} qid=${qid}`;
    summary.read++;
    if (seenQids.has(qid)) {
      summary.skip(REASON.duplicateQid, where);
      continue;
    }
    seenQids.add(qid);
    if (question === '') {
      summary.skip(REASON.emptyQuery, where);
      continue;
    }
    const positives = relevant.get(qid);
    if (!positives) {
      summary.skip(REASON.noQrels, where);
      continue;
    }
    pending.set(qid, { qid, question, positives, negatives: [] });
  }
  for (const [qid, pids] of relevant) if (!seenQids.has(qid)) summary.count(EXTRA.qrelsUnknownQuery, pids.length);
  return pending;
}

/** Queries as (qid, question): TSV `qid\tquery`, or BEIR queries.jsonl (`_id`, `text`) by extension. */
async function* readQueryLines(file: string): AsyncGenerator<{ lineNo: number; qid: string; question: string }> {
  if (/\.jsonl$/i.test(file.replace(/\.gz$/i, ''))) {
    for await (const { value, where, lineNo } of readJsonLines(file)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(file, where, undefined, 'expected a JSON object {"_id", "text"}');
      const o = value as Record<string, unknown>;
      const id = o._id ?? o.id ?? o.qid;
      if (typeof id !== 'string' && typeof id !== 'number') throw new InputError(file, where, '_id', 'expected a string or number query id');
      if (typeof o.text !== 'string') throw new InputError(file, where, 'text', 'expected the query text as a string');
      yield { lineNo, qid: String(id).trim(), question: o.text.trim() };
    }
    return;
  }
  for await (const { lineNo, text } of readLines(file)) {
    if (text.trim() === '') continue;
    const tab = text.indexOf('\t');
    if (tab < 0) throw new InputError(file, `line ${lineNo}`, undefined, 'expected "qid<TAB>query"');
    yield { lineNo, qid: text.slice(0, tab).trim(), question: text.slice(tab + 1).trim() };
  }
}

/** 3. negatives for the kept queries, capped while reading so memory follows the cap (0 = no cap). */
async function readNegatives(file: string, pending: Map<string, PendingQuery>, cap: number, summary: Summary): Promise<void> {
  for await (const { lineNo, text } of readLines(file)) {
    let row: { qid: string; pids: string[] } | null;
    try {
      row = parseNegativesLine(text);
    } catch (err) {
      throw new InputError(file, `line ${lineNo}`, undefined, (err as Error).message);
    }
    if (!row) continue;
    const q = pending.get(row.qid);
    if (!q) {
      summary.count(EXTRA.negativesUnknownQuery);
      continue;
    }
    for (const pid of row.pids) {
      if (q.positives.includes(pid)) summary.count(EXTRA.negativesPositive);
      else if (hasNegative(q, pid)) summary.count(EXTRA.negativesRepeated);
      else if (cap > 0 && q.negatives.length >= cap) summary.count(EXTRA.negativesOverCap);
      else q.negatives.push(pid);
    }
  }
}

/** 4. the collection, streamed once: every passage to the corpus sink; returns the texts records need. */
async function streamCollection(file: string, columns: CorpusColumns | undefined, pending: Map<string, PendingQuery>, sink: MsmarcoSink, summary: Summary): Promise<Map<string, string>> {
  const needed = new IdSet();
  for (const q of pending.values()) for (const pid of [...q.positives, ...q.negatives]) needed.add(pid);
  const texts = new Map<string, string>();
  const seenPids = new IdSet();
  let passages = 0;
  for await (const p of readCollection(file, columns)) {
    if (seenPids.has(p.passage_id)) {
      summary.count(EXTRA.duplicatePid);
      continue;
    }
    seenPids.add(p.passage_id);
    passages++;
    await sink.passage?.(p);
    // A copy, not the line's substring: V8 substrings keep their whole 1 MB read chunk alive,
    // so keeping a few texts per chunk would hold the entire collection.
    if (needed.has(p.passage_id)) texts.set(p.passage_id, Buffer.from(p.text, 'utf8').toString('utf8'));
  }
  summary.count(EXTRA.passages, passages);
  return texts;
}

/** 5. records, in queries order; ids missing from the collection are dropped and counted. */
async function writeRecords(pending: Map<string, PendingQuery>, texts: Map<string, string>, dataset: string, negativesTo: OfficialNegatives, sink: MsmarcoSink, summary: Summary): Promise<void> {
  const ctx = (pid: string): Ctx => ({ title: '', text: texts.get(pid)!, passage_id: pid });
  for (const q of pending.values()) {
    const positives = q.positives.filter((pid) => texts.has(pid));
    summary.count(EXTRA.positiveMissing, q.positives.length - positives.length);
    if (positives.length === 0) {
      summary.skip(REASON.noPositiveInCollection, `qid=${q.qid}`);
      continue;
    }
    const negatives = q.negatives.filter((pid) => texts.has(pid));
    summary.count(EXTRA.negativesMissing, q.negatives.length - negatives.length);
    await sink.record({
      dataset,
      question: q.question,
      answers: [],
      positive_ctxs: positives.map(ctx),
      negative_ctxs: negativesTo === 'negative' ? negatives.map(ctx) : [],
      hard_negative_ctxs: negativesTo === 'hard' ? negatives.map(ctx) : [],
      id: q.qid,
    });
    summary.converted++;
  }
}

/**
 * Streams MS MARCO's collection.tsv (`pid\tpassage`, split at tabs, not CSV-quoted; 3 columns as a
 * header or `columns` says), or a dprep corpus when the extension is .jsonl / .parquet. Progress is
 * measured in file bytes.
 */
async function* readCollection(file: string, columns: CorpusColumns | undefined): AsyncGenerator<Passage> {
  const ext = extname(file.replace(/\.gz$/, '')).toLowerCase();
  const size = await assertReadableFile(file);
  const progress = new Progress('convert msmarco: collection', { total: size, unit: 'B' });
  const onRawBytes = (n: number) => progress.tick(n);
  if (ext === '.jsonl' || ext === '.parquet') {
    yield* readCorpus(file, { format: ext === '.jsonl' ? 'jsonl' : 'parquet', onRawBytes });
    progress.finish();
    return;
  }
  let layout: string[] | null = columns ? columns.split(',') : null;
  let first = true;
  for await (const { lineNo, text } of readLines(file, onRawBytes)) {
    if (text === '') continue;
    const fields = splitTabs(text, layout?.length ?? 3);
    if (first) {
      first = false;
      const header = corpusHeaderLayout(fields);
      if (header !== null) {
        if (columns && header !== columns) throw new InputError(file, `line ${lineNo}`, undefined, `the header row says ${header} but --columns says ${columns}`);
        layout = header.split(',');
        continue;
      }
      if (layout === null && fields.length === 3) {
        throw new InputError(file, `line ${lineNo}`, undefined, '3 tab-separated columns and no header row: pass --columns id,title,text (OpenMatch/RocketQA) or --columns id,text,title (DPR psgs_w100), or add a header row');
      }
      layout ??= ['id', 'text'];
    }
    const cols = layout ?? ['id', 'text'];
    // 2 columns: the passage is everything after the first tab, as before.
    const row = cols.length === 2 ? splitTabs(text, 2) : fields;
    if (row.length !== cols.length) throw new InputError(file, `line ${lineNo}`, undefined, cols.length === 2 ? 'expected "pid<TAB>passage"' : `expected 3 tab-separated fields (${cols.join(', ')}), got ${row.length}`);
    const p: Passage = { passage_id: '', title: '', text: '' };
    cols.forEach((col, i) => {
      if (col === 'id') p.passage_id = row[i];
      else if (col === 'title') p.title = row[i];
      else p.text = row[i];
    });
    yield p;
  }
  progress.finish();
}

/** Splits at the first `parts - 1` tabs; the last part keeps any further tabs. */
function splitTabs(text: string, parts: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (out.length < parts - 1) {
    const tab = text.indexOf('\t', start);
    if (tab < 0) break;
    out.push(text.slice(start, tab));
    start = tab + 1;
  }
  out.push(text.slice(start));
  return out;
}
