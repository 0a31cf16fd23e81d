/**
 * Batch search to a TREC run file: queries are read in order, searched on the worker pool in
 * batches, and written in input order.
 */
import { extname } from 'node:path';
import { readDprRecords } from '../../io/records.ts';
import { readJsonLines, readLines } from '../../io/lines.ts';
import { AtomicFile } from '../../io/atomic.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';
import { OrderedWindow } from '../../util/ordered-window.ts';
import { Bm25Index } from './index.ts';
import { startBm25Runner } from './pool.ts';
import type { SearchJob, SearchResult } from './tasks.ts';

export interface QueryLine {
  qid: string;
  text: string;
}

/**
 * Streams queries from JSON lines ({id|_id|qid|query_id, text|query|question}), DPR records
 * (.json/.parquet, or .jsonl lines with `question`: id, else 0-based position) or TSV (qid, query).
 * @example for await (const q of readQueries('topics.tsv')) console.log(q.qid, q.text);
 */
export async function* readQueries(file: string): AsyncGenerator<QueryLine> {
  const ext = extname(file.replace(/\.gz$/, '')).toLowerCase();
  if (ext === '.json' || ext === '.parquet') {
    // DPR records: the query id is the record's id, else its 0-based position (as `dprep eval` numbers them).
    let index = 0;
    for await (const { record } of readDprRecords(file)) yield { qid: record.id ?? String(index++), text: record.question };
    return;
  }
  if (ext === '.jsonl') {
    // A DPR record without an id is numbered by position, as `dprep eval` numbers it.
    let position = 0;
    for await (const { value, where } of readJsonLines(file)) {
      const index = position++;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(file, where, undefined, 'expected a JSON object');
      const obj = value as Record<string, unknown>;
      const qid = obj.id ?? obj._id ?? obj.qid ?? obj.query_id ?? (typeof obj.question === 'string' ? index : undefined);
      const query = obj.text ?? obj.query ?? obj.question;
      if (typeof qid !== 'string' && typeof qid !== 'number') throw new InputError(file, where, 'id', 'expected a query id (id, _id, qid or query_id)');
      if (typeof query !== 'string') throw new InputError(file, where, 'text', 'expected the query text (text, query or question)');
      yield { qid: String(qid), text: query };
    }
    return;
  }
  for await (const { lineNo, text } of readLines(file)) {
    if (text.trim() === '') continue;
    const tab = text.indexOf('\t');
    if (tab <= 0) throw new InputError(file, `line ${lineNo}`, undefined, 'expected "qid<TAB>query"');
    yield { qid: text.slice(0, tab), text: text.slice(tab + 1) };
  }
}

/** How many queries readQueries yields from `file`: the n that work units split. */
export async function countQueries(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readQueries(file)) n++;
  return n;
}

/**
 * Searches every query of `queries` and writes a TREC run.
 * @example await searchBm25ToTrec({ index: 'x.bm25', queries: 'q.jsonl', out: 'run.trec', k: 100, tag: 'bm25', threads: 2 })
 */
export async function searchBm25ToTrec(opts: {
  index: string;
  queries: string;
  out: string;
  k: number;
  tag: string;
  threads: number;
  batchSize?: number;
  /** Only queries [start, end) of the file (0-based, in file order): one work unit's share. */
  range?: { start: number; end: number };
}) {
  const started = Date.now();
  const index = Bm25Index.open(opts.index, { shared: opts.threads > 1 });
  // Opened before the workers start: an unwritable --out fails with no pool left running.
  const out = await AtomicFile.create(opts.out).catch((e) => (index.close(), Promise.reject(e)));
  const runner = await startBm25Runner(index, opts.threads).catch(async (e) => (await out.abort(), index.close(), Promise.reject(e)));
  const progress = new Progress('search bm25', { unit: 'queries' });
  let queries = 0;
  let lines = 0;
  let empty = 0;
  try {
    // Batches in flight, oldest first: written in input order whatever finishes first.
    const window = new OrderedWindow<SearchResult[], string[]>(runner.threads * 2, async (res, qids) => {
      let chunk = '';
      res.forEach((r, i) => {
        if (r.passageIds.length === 0) empty++;
        r.passageIds.forEach((pid, rank) => (chunk += `${qids[i]} Q0 ${pid} ${rank + 1} ${r.scores[rank].toFixed(6)} ${opts.tag}\n`));
        lines += r.passageIds.length;
      });
      await out.write(chunk);
      progress.tick(qids.length);
    });
    let qids: string[] = [];
    let jobs: SearchJob[] = [];
    let position = 0;
    for await (const q of readQueries(opts.queries)) {
      const at = position++;
      if (opts.range && at < opts.range.start) continue;
      if (opts.range && at >= opts.range.end) break;
      queries++;
      qids.push(q.qid);
      jobs.push({ query: index.toTermQuery(q.text), k: opts.k });
      if (jobs.length < (opts.batchSize ?? 64)) continue;
      await window.push(runner.search(jobs), qids);
      qids = [];
      jobs = [];
    }
    if (jobs.length > 0) await window.push(runner.search(jobs), qids);
    await window.drain();
    progress.finish();
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  } finally {
    await runner.close();
    index.close();
  }
  return { queries, lines, empty, seconds: (Date.now() - started) / 1000 };
}
