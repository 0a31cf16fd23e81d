/**
 * kill -9 at seeded random points of the quick-start pipeline (issue 15): an uninterrupted run
 * gives the reference; then, for each seed, one `dprep run` is started in a second workdir and
 * SIGKILLed after a delay drawn from the seed (uniform over the reference run's duration, each
 * kill landing in whatever step runs then), the next run continuing where the last one was
 * killed; a final run finishes. Every output file and the lockfile must equal the reference's,
 * byte for byte (timing figures such as questions/s in metrics.jsonl are reported apart), and no
 * temp file may be left.
 *
 * Slow (several full runs of the pipeline: minutes), so a bench script and not a unit test; the
 * unit tests kill -9 / signal the same runner on a small pipeline (test/pipeline/cli.test.ts,
 * test/cli/signals.test.ts).
 *
 * Run:  node --import tsx bench/kill9-pipeline.ts [seeds=1,2,3] [pipeline=pipelines/squad-two-stage.yaml] [--set k=v ...]
 * Exit: 0 when the outputs match and nothing is left, 1 otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../src/util/random.ts';

const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'bin', 'dprep.js');
const args = process.argv.slice(2);
const sets = args.flatMap((a, i) => (a === '--set' ? ['--set', args[i + 1]] : []));
const positional = args.filter((a, i) => a !== '--set' && args[i - 1] !== '--set');
const seeds = (positional[0] ?? '1,2,3').split(',').map(Number);
const pipeline = join(root, positional[1] ?? 'pipelines/squad-two-stage.yaml');
const env = { ...process.env, DPREP_QUIET: '1' };
const base = mkdtempSync(join(tmpdir(), 'dprep-kill9-'));

function tree(dir: string): string[] {
  const out: string[] = [];
  (function walk(d: string) {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  })(dir);
  return out.sort();
}
// Outputs: everything but the runner's book-keeping (.dprep/: state, staging, hash cache) and the per-run manifests.
const outputs = (dir: string) => tree(dir).filter((p) => !/^(\.dprep|runs)\//.test(p));
const isTemp = (p: string) => /\.(tmp|old)-\d+/.test(p);

function runToEnd(workdir: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'run', pipeline, '--workdir', workdir, ...sets], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dprep run ${workdir} exited ${r.status}:\n${r.stderr.slice(-3000)}`);
  return (performance.now() - t0) / 1000;
}

async function runAndKill(workdir: string, afterS: number): Promise<'killed' | 'finished'> {
  const child = spawn(process.execPath, [CLI, 'run', pipeline, '--workdir', workdir, ...sets], { env, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const done = await Promise.race([exited.then(() => true), sleep(afterS * 1000).then(() => false)]);
  if (done) return 'finished';
  child.kill('SIGKILL');
  await exited;
  return 'killed';
}

// Both runs use the same workdir path (the reference is moved aside when done): outputs that
// record a path (reports, train_config.json) must not differ for that reason alone.
const killed = join(base, 'work');
const reference = join(base, 'reference');
const refSeconds = runToEnd(killed);
renameSync(killed, reference);
console.log(`reference run: ${refSeconds.toFixed(1)} s, ${outputs(reference).length} output files (${pipeline}, ${sets.join(' ') || 'no --set'})`);

let kills = 0;
for (const seed of seeds) {
  const at = seededRandom(seed)() * refSeconds;
  const how = await runAndKill(killed, at);
  if (how === 'killed') kills++;
  const st = spawnSync(process.execPath, [CLI, 'status', pipeline, '--workdir', killed, ...sets, '--json'], { env, encoding: 'utf8' });
  const states = st.status === 0 ? (JSON.parse(st.stdout) as { step: string; state: string }[]) : [];
  const fresh = states.filter((s) => s.state === 'fresh').length;
  console.log(`seed ${seed}: kill -9 after ${at.toFixed(1)} s: ${how}; ${fresh}/${states.length} steps done; temps now: ${tree(killed).filter(isTemp).length}`);
}
const finalSeconds = runToEnd(killed);
console.log(`final run after ${kills} kills: ${finalSeconds.toFixed(1)} s`);

let bad = 0;
const want = outputs(reference);
const got = outputs(killed);
if (want.join('\n') !== got.join('\n')) {
  bad++;
  console.log(`different file lists: only in reference ${want.filter((f) => !got.includes(f)).join(', ') || '-'}; only after kills ${got.filter((f) => !want.includes(f)).join(', ') || '-'}`);
}
// Timing figures (questions/s, seconds) are measurements, not results: a file differing only there is reported apart.
const TIMING = /"(questions_per_s|passagesPerSecond|seconds|mergeSeconds)":\s*-?[0-9.e+-]+/g;
let same = 0;
let timingOnly = 0;
for (const f of want.filter((f) => got.includes(f))) {
  const a = readFileSync(join(reference, f));
  const b = readFileSync(join(killed, f));
  if (a.equals(b)) same++;
  else if (a.toString('utf8').replace(TIMING, '"$1":T') === b.toString('utf8').replace(TIMING, '"$1":T')) {
    timingOnly++;
    console.log(`differs only in timing fields: ${f}`);
  } else {
    bad++;
    console.log(`differs: ${f}`);
  }
}
const temps = tree(killed).filter(isTemp);
if (temps.length) {
  bad++;
  console.log(`temps left: ${temps.join(', ')}`);
}
console.log(`${same}/${want.length} output files byte-identical (lockfile included), ${timingOnly} more identical but for timing fields; ${temps.length} temps left; ${kills} kills at seeds ${seeds.join(',')}; workdirs under ${base}`);
process.exit(bad ? 1 : 0);
