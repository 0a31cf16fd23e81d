/**
 * kill -9 at seeded random points of the quick-start pipeline (issue 15): an uninterrupted run
 * gives the reference; then, for each seed, one `dprep run` is started in a second workdir and
 * SIGKILLed after a delay drawn from the seed, uniform over what is left to do: the reference's
 * seconds of the steps not yet fresh (from its run manifest), plus the runner's start-up. So each
 * kill lands in a step still to run, whatever the earlier kills finished; the next run continues
 * where the last one was killed; a final run finishes. Every output file and the lockfile must equal the reference's,
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
// Each step's seconds in the reference run (its manifest under runs/): what a kill can still land in.
const refManifest = JSON.parse(readFileSync(join(reference, 'runs', readdirSync(join(reference, 'runs')).filter((f) => f.endsWith('.json')).sort()[0]), 'utf8')) as { steps: { step: string; seconds?: number }[] };
const stepSeconds = new Map(refManifest.steps.map((s) => [s.step, s.seconds ?? 0]));
const startup = Math.max(0, refSeconds - [...stepSeconds.values()].reduce((a, b) => a + b, 0));
function stepStates(): { step: string; state: string }[] {
  const st = spawnSync(process.execPath, [CLI, 'status', pipeline, '--workdir', killed, ...sets, '--json'], { env, encoding: 'utf8' });
  return st.status === 0 ? (JSON.parse(st.stdout) as { step: string; state: string }[]) : [];
}
console.log(`reference run: ${refSeconds.toFixed(1)} s, ${outputs(reference).length} output files (${pipeline}, ${sets.join(' ') || 'no --set'})`);

let kills = 0;
const landedIn: string[] = [];
for (const seed of seeds) {
  const before = stepStates();
  const pending = before.length ? before.filter((s) => s.state !== 'fresh').map((s) => s.step) : [...stepSeconds.keys()];
  if (!pending.length) {
    console.log(`seed ${seed}: every step is done; no kill left to land`);
    continue;
  }
  const left = startup + pending.reduce((a, s) => a + (stepSeconds.get(s) ?? 0), 0);
  const at = seededRandom(seed)() * left;
  const how = await runAndKill(killed, at);
  const states = stepStates();
  const fresh = states.filter((s) => s.state === 'fresh').length;
  // The step the kill landed in: the first of those pending before that is still not fresh.
  const hit = how === 'killed' ? pending.find((p) => states.find((s) => s.step === p)?.state !== 'fresh') : undefined;
  if (how === 'killed') {
    kills++;
    if (hit) landedIn.push(hit);
  }
  console.log(`seed ${seed}: kill -9 after ${at.toFixed(1)} s of ~${left.toFixed(0)} s left: ${how}${hit ? ` in step ${hit}` : ''}; ${fresh}/${states.length} steps done; temps now: ${tree(killed).filter(isTemp).length}`);
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
console.log(`${same}/${want.length} output files byte-identical (lockfile included), ${timingOnly} more identical but for timing fields; ${temps.length} temps left; ${kills} kills at seeds ${seeds.join(',')} (in steps: ${landedIn.join(', ') || '-'}); workdirs under ${base}`);
process.exit(bad ? 1 : 0);
