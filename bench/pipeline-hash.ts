/**
 * Pipeline input hashing: streamed sha256 of a large file against coreutils `sha256sum` (the peer,
 * same file, same run), then the cost of a rerun when the (size, mtime, inode) cache answers, and
 * the whole no-op rerun of a one-step pipeline reading that file.
 *
 * Run:  nice node --import tsx bench/pipeline-hash.ts [sizeGB=2]
 * Data: writes .bench-data/hash-<size>g.bin (pseudo-random bytes) and removes nothing.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { HashCache, sha256File } from '../src/pipeline/hash.ts';
import { readPipelineFile } from '../src/pipeline/schema.ts';
import { planPipeline } from '../src/pipeline/plan.ts';
import { runPipeline } from '../src/pipeline/runner.ts';
import { debugCommands } from '../src/commands/debug.ts';

const sizeGB = Number(process.argv[2] ?? 2);
const dir = new URL('../.bench-data/', import.meta.url).pathname;
const file = join(dir, `hash-${sizeGB}g.bin`);
const bytes = Math.round(sizeGB * 2 ** 30);

async function makeFile(): Promise<void> {
  if (existsSync(file) && statSync(file).size === bytes) return;
  await mkdir(dir, { recursive: true });
  const out = createWriteStream(file);
  const block = randomBytes(16 << 20);
  for (let done = 0; done < bytes; done += block.length) {
    if (!out.write(block.subarray(0, Math.min(block.length, bytes - done)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  // An old mtime, so the racy-mtime guard does not make the cache distrust a just-written file.
  const past = new Date(Date.now() - 3600_000);
  await utimes(file, past, past);
}

const time = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await f();
  return [v, (performance.now() - t0) / 1000];
};

await makeFile();
// Warm the page cache once so both hashers read from memory, not from a cold disk.
spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
const [ours, oursS] = await time(() => sha256File(file));
const [peer, peerS] = await time(() => spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.split(' ')[0]);
if (ours !== peer) throw new Error(`hash mismatch: ${ours} vs ${peer}`);

const cacheFile = join(dir, 'hash-cache.json');
await rm(cacheFile, { force: true });
const c1 = await HashCache.open(cacheFile);
await c1.hashFile(file);
await c1.save();
const c2 = await HashCache.open(cacheFile);
const [, cachedS] = await time(() => c2.hashFile(file));
if (c2.rehashed !== 0) throw new Error('the cache did not answer');

// A one-step pipeline over the big file: first run hashes it, the no-op rerun must not.
const work = join(dir, 'hash-pipeline');
await rm(work, { recursive: true, force: true });
const yaml = join(dir, 'hash-pipeline.yaml');
await writeFile(yaml, `name: hashbench\nworkdir: hash-pipeline\nsteps:\n  s:\n    uses: debug.write\n    with: { input: [${JSON.stringify(file)}], out: s.txt, lines: 1 }\n`);
const plan = planPipeline(await readPipelineFile(yaml), { commands: debugCommands });
const first = await runPipeline(plan, { log: () => {} });
if (!first.ok) throw first.error;
const [rerun, rerunS] = await time(() => runPipeline(plan, { log: () => {} }));
if (rerun.steps[0].status !== 'cached') throw new Error(`rerun was not cached: ${rerun.steps[0].reason}`);

const gbs = (s: number) => (bytes / 2 ** 30 / s).toFixed(2);
console.log(`file: ${sizeGB} GiB`);
console.log(`sha256 (dprep, streamed): ${oursS.toFixed(2)} s  ${gbs(oursS)} GiB/s`);
console.log(`sha256sum (peer):         ${peerS.toFixed(2)} s  ${gbs(peerS)} GiB/s`);
console.log(`ratio dprep/peer:         ${(oursS / peerS).toFixed(2)}`);
console.log(`cached hash (stat only):  ${(cachedS * 1000).toFixed(2)} ms`);
console.log(`no-op pipeline rerun:     ${(rerunS * 1000).toFixed(1)} ms (the step reads the ${sizeGB} GiB file)`);
console.log(`peak RSS:                 ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
