/**
 * Test-only commands (registered when DPREP_TEST_COMMANDS=1): deterministic, slow on demand,
 * checkpointing, failing on demand, so pipeline tests can kill and resume the real CLI at a
 * known point without waiting for real training.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtomicFile, writeFileAtomic } from '../io/atomic.ts';
import { defineCommand, seedOption } from '../options.ts';
import { InputError } from '../util/errors.ts';

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

export const debugCommands = [debugWriteCommand];
