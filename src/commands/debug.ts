/**
 * Test-only commands (registered when DPREP_TEST_COMMANDS=1): deterministic, slow on demand,
 * checkpointing, failing on demand, so pipeline tests can kill and resume the real CLI at a
 * known point without waiting for real training.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtomicFile, removeTemp, tempPathFor, writeFileAtomic } from '../io/atomic.ts';
import { forgetTemp } from '../io/temps.ts';
import { defineCommand, seedOption } from '../options.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { completeUnits, readUnitDone, unitDir, unitRange, unitsRoot, UNIT_DONE, UNIT_OPTIONS, type UnitDone } from '../util/units.ts';
import { DPREP_VERSION } from '../version.ts';

export const debugWriteCommand = defineCommand({
  id: 'debug.write',
  summary: '(test) write N lines derived from the inputs and seed, checkpointing each line',
  description: `
Line i of --out is "<text> <i> <h>", h a hash of (input bytes, seed, i): the output depends on
every input byte, the seed and the options, and on nothing else. With a state directory (set
by the pipeline runner) progress is checkpointed after every line and resumed after a kill.`,
  options: {
    input: { type: 'list', role: 'input', help: 'files (or directories) whose bytes feed the output' },
    out: { type: 'string', role: 'output', required: true, sideFiles: ['.summary.json'], help: 'lines file to write' },
    outDir: { type: 'string', role: 'output', help: 'also write one file per line into this directory' },
    lines: { type: 'integer', default: 10, min: 0, help: 'lines to write' },
    text: { type: 'string', default: 'line', help: 'first word of each line' },
    delayMs: { type: 'integer', default: 0, min: 0, help: 'wait before each line (makes kills land mid-step)' },
    failAt: { type: 'integer', min: 0, help: 'throw after this many lines' },
    badInputAt: { type: 'integer', min: 0, help: 'report bad input (InputError) after this many lines' },
    seed: seedOption(0, 'every line (mixed into its hash)'),
  },
  async run(opts, context) {
    const digest = createHash('sha256');
    for (const file of opts.input ?? []) await hashTree(file, digest);
    const base = digest.digest('hex');
    const checkpoint = context.stateDir ? join(context.stateDir, 'progress.json') : undefined;
    let lines: string[] = [];
    if (checkpoint) {
      try {
        lines = (JSON.parse(await readFile(checkpoint, 'utf8')) as { lines: string[] }).lines;
      } catch {
        // no checkpoint yet
      }
    }
    const resumedFrom = lines.length;
    for (let i = lines.length; i < opts.lines; i++) {
      if (opts.failAt === i) throw new Error(`debug.write: failing on purpose at line ${i}`);
      if (opts.badInputAt === i) throw new InputError(opts.input?.[0] ?? '<none>', `line ${i + 1}`, 'text', 'bad on purpose');
      if (opts.delayMs) await sleep(opts.delayMs);
      const h = createHash('sha256').update(`${base}:${opts.seed}:${i}`).digest('hex').slice(0, 12);
      lines.push(`${opts.text} ${i} ${h}`);
      if (checkpoint) await writeFileAtomic(checkpoint, JSON.stringify({ lines }));
    }
    const out = await AtomicFile.create(opts.out);
    for (const line of lines) await out.write(line + '\n');
    await out.commit();
    if (opts.outDir) {
      await mkdir(opts.outDir, { recursive: true });
      for (const [i, line] of lines.entries()) await writeFile(join(opts.outDir, `part-${String(i).padStart(3, '0')}.txt`), line + '\n');
    }
    await writeFileAtomic(`${opts.out}.summary.json`, JSON.stringify({ lines: lines.length }) + '\n');
    context.log(`wrote ${lines.length} lines${resumedFrom ? `, resumed from line ${resumedFrom}` : ''}`);
    return { metrics: { lines: lines.length, resumedFrom } };
  },
});

/** Feeds the bytes of a file, or of every file under a directory in name order (with names), to `hash`. */
async function hashTree(path: string, hash: Hash): Promise<void> {
  if (!(await stat(path)).isDirectory()) {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return;
  }
  for (const name of (await readdir(path)).sort()) {
    hash.update(name + '\0');
    await hashTree(join(path, name), hash);
  }
}

export const debugShardCommand = defineCommand({
  id: 'debug.shard',
  summary: '(test) a shardable command over the lines of a file, with fault injection per unit',
  description: `
Line i of --out is "<i> <h>", h a hash of (line i of --input, --salt). Implements the work-unit
contract (src/util/units.ts): with --unit I --units N it writes only unit I's lines into its unit
directory beside --out, then the done marker; without --unit it merges the units of an N whose
units are all done (in unit order, computing nothing again), else it does the whole file. Faults
for executor tests: --fail-unit K fails unit K on its first attempt only (a marker beside the
units remembers the attempt), --bad-unit K reports bad input (exit 2) in unit K, --sleep-ms waits
in every unit (and in a whole run) before writing.`,
  units: { over: 'input' },
  options: {
    input: { type: 'string', role: 'input', required: true, help: 'lines file whose lines are the records' },
    out: { type: 'string', role: 'output', required: true, sideFiles: ['.summary.json'], help: 'lines file to write' },
    salt: { type: 'string', default: '', help: 'mixed into every hash (a param that changes the bytes)' },
    sleepMs: { type: 'integer', default: 0, min: 0, help: 'wait this long in every unit before writing' },
    rounds: { type: 'integer', default: 1, min: 1, help: 'sha256 rounds per record (CPU work, for scaling benchmarks)' },
    failUnit: { type: 'integer', min: 0, help: 'fail this unit on its first attempt (transient fault)' },
    badUnit: { type: 'integer', min: 0, help: 'report bad input (exit 2) in this unit, every attempt' },
    ...UNIT_OPTIONS,
  },
  async run(opts, context) {
    const text = await readFile(opts.input, 'utf8');
    const records = text === '' ? [] : text.replace(/\n$/, '').split('\n');
    const key = createHash('sha256').update(`${text}\0${opts.salt}\0${opts.rounds}`).digest('hex').slice(0, 16);
    const line = (i: number) => {
      let h = createHash('sha256').update(`${opts.salt}:${records[i]}`).digest();
      for (let r = 1; r < opts.rounds; r++) h = createHash('sha256').update(h).digest();
      return `${i} ${h.toString('hex').slice(0, 12)}\n`;
    };
    if (opts.unit !== undefined || opts.units !== undefined) {
      if (opts.unit === undefined || opts.units === undefined) throw new UsageError('debug.shard: --unit and --units go together');
      const r = unitRange(records.length, opts.unit, opts.units);
      const dir = unitDir(opts.out, r.unit, r.units);
      if (readUnitDone(opts.out, r.unit, r.units)?.key === key) {
        context.log(`unit ${r.unit} of ${r.units} already done`);
        return { metrics: { lines: r.end - r.start, units: r.units } };
      }
      if (opts.sleepMs) await sleep(opts.sleepMs);
      if (opts.badUnit === r.unit) throw new InputError(opts.input, `line ${r.start + 1}`, 'text', `bad on purpose (unit ${r.unit})`);
      const once = join(unitsRoot(opts.out), `.failed-once-${r.unit}`);
      if (opts.failUnit === r.unit && !existsSync(once)) {
        await mkdir(unitsRoot(opts.out), { recursive: true });
        await writeFile(once, '');
        throw new Error(`debug.shard: unit ${r.unit} failing on purpose (first attempt)`);
      }
      const tmp = tempPathFor(dir);
      await mkdir(tmp, { recursive: true });
      try {
        let body = '';
        for (let i = r.start; i < r.end; i++) body += line(i);
        await writeFile(join(tmp, 'part.txt'), body);
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
        forgetTemp(tmp);
      } catch (err) {
        await removeTemp(tmp);
        throw err;
      }
      const done: UnitDone = { ...r, version: DPREP_VERSION, key, host: hostname() };
      await writeFileAtomic(join(dir, UNIT_DONE), JSON.stringify(done) + '\n');
      context.log(`unit ${r.unit} of ${r.units}: lines ${r.start}..${r.end}`);
      return { metrics: { lines: r.end - r.start, units: r.units } };
    }
    const n = await completeUnits(opts.out);
    const out = await AtomicFile.create(opts.out);
    if (n) {
      for (let u = 0; u < n; u++) {
        const done = readUnitDone(opts.out, u, n)!;
        if (done.key !== key || done.version !== DPREP_VERSION) {
          await out.abort();
          throw new UsageError(`debug.shard: unit ${u} of ${n} (${unitDir(opts.out, u, n)}) was made by dprep ${done.version} from other inputs or params (key ${done.key}, now ${key}): remove ${unitsRoot(opts.out)} and rerun`);
        }
        await out.write(await readFile(join(unitDir(opts.out, u, n), 'part.txt'), 'utf8'));
      }
    } else {
      if (opts.sleepMs) await sleep(opts.sleepMs);
      for (let i = 0; i < records.length; i++) await out.write(line(i));
    }
    await out.commit();
    await writeFileAtomic(`${opts.out}.summary.json`, JSON.stringify({ lines: records.length }) + '\n');
    context.log(n ? `merged ${n} units, ${records.length} lines` : `wrote ${records.length} lines`);
    return { metrics: { lines: records.length, units: n } };
  },
});

export const debugCommands = [debugWriteCommand, debugShardCommand];
