/** `dprep search bm25`: ranks the corpus for each query and writes a TREC run. */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicFile, writeFileAtomic } from '../io/atomic.ts';
import { defineCommand } from '../options.ts';
import { requestedUnit, unitDir, unitKey, unitRange, UNIT_OPTIONS } from '../util/units.ts';
import { resolveThreads } from './_bm25-options.ts';
import { commitUnit, unitAlreadyDone, unitsToMerge } from './_units.ts';

interface SearchStats {
  queries: number;
  lines: number;
  empty: number;
  seconds: number;
}

export const searchBm25Command = defineCommand({
  id: 'search.bm25',
  summary: 'Search a BM25 index for each query and write a TREC run file',
  description: `
Input: an index (dprep index bm25) and queries: JSON lines {id|_id|qid|query_id, text|query|question},
DPR records (.json, .jsonl, .parquet: the record id, else its 0-based position, as dprep eval numbers them),
or TSV "qid<TAB>query" (MS MARCO / anserini topics; .gz ok). Output: a TREC run, one line per hit:
"qid Q0 passage_id rank score dprep-bm25", best first (ties by corpus order), written atomically.
A query line without an id or text is an error naming the line. Queries with no known term get no lines.
Work units: --unit I --units N searches only queries [I*U, min((I+1)*U, n)) (U = ceil(n/N), file order) into a
unit directory beside --out; without --unit, once all N units are done, their runs are joined in unit order
into --out (the bytes of one whole run), searching nothing again. The index is read, never rebuilt.
Example:  dprep search bm25 --index squad.bm25 --queries questions.jsonl --k 100 --out run.trec`,
  units: { over: 'queries' },
  options: {
    index: { type: 'string', required: true, role: 'input', help: 'BM25 index directory' },
    queries: { type: 'string', required: true, role: 'input', help: 'queries file (.jsonl or .tsv)' },
    out: { type: 'string', required: true, role: 'output', help: 'TREC run file to write' },
    k: { type: 'integer', default: 100, min: 1, help: 'hits per query' },
    tag: { type: 'string', default: 'dprep-bm25', help: 'run tag (last TREC column)' },
    threads: { type: 'integer', default: 0, min: 0, help: 'worker threads (0: one per core)' },
    ...UNIT_OPTIONS,
  },
  async run(opts, ctx) {
    const { countQueries, searchBm25ToTrec } = await import('../search/bm25/run.ts');
    const unit = requestedUnit(opts, 'search bm25');
    const { unit: _u, units: _n, threads: _t, ...params } = opts;
    const key = await unitKey('search.bm25', params, [opts.queries, opts.index]);
    const search = { index: opts.index, queries: opts.queries, out: opts.out, k: opts.k, tag: opts.tag, threads: resolveThreads(opts.threads) };
    let stats: SearchStats;
    if (unit) {
      const r = unitRange(await countQueries(opts.queries), unit.unit, unit.units);
      const statsFile = (dir: string) => join(dir, 'stats.json');
      if (unitAlreadyDone(opts.out, r, key)) stats = JSON.parse(await readFile(statsFile(unitDir(opts.out, r.unit, r.units)), 'utf8')) as SearchStats;
      else {
        stats = { queries: 0, lines: 0, empty: 0, seconds: 0 };
        await commitUnit(opts.out, r, key, async (dir) => {
          stats = await searchBm25ToTrec({ ...search, out: join(dir, 'run.trec'), range: r });
          await writeFileAtomic(statsFile(dir), JSON.stringify(stats) + '\n');
        });
      }
      ctx.log(`search bm25: unit ${r.unit} of ${r.units}, queries ${r.start}..${r.end}`);
    } else {
      const dirs = await unitsToMerge(opts.out, key, 'search bm25');
      if (dirs.length) {
        // The run lines are the same bytes whichever process formatted them: joined in unit order.
        const out = await AtomicFile.create(opts.out);
        stats = { queries: 0, lines: 0, empty: 0, seconds: 0 };
        try {
          for (const dir of dirs) {
            for await (const chunk of createReadStream(join(dir, 'run.trec'), 'utf8')) await out.write(chunk as string);
            const one = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as SearchStats;
            stats = { queries: stats.queries + one.queries, lines: stats.lines + one.lines, empty: stats.empty + one.empty, seconds: stats.seconds + one.seconds };
          }
          await out.commit();
        } catch (err) {
          await out.abort();
          throw err;
        }
        ctx.log(`search bm25: merged ${dirs.length} units`);
      } else stats = await searchBm25ToTrec(search);
    }
    ctx.log(`search bm25: ${stats.queries} queries, ${stats.lines} run lines, ${stats.empty} queries without hits, ${stats.seconds.toFixed(1)}s → ${opts.out}`);
    return { metrics: { queries: stats.queries, lines: stats.lines, empty: stats.empty } };
  },
});
