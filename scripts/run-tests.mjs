#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (Node 20 does not glob .ts files itself).
// Usage: node scripts/run-tests.mjs [substring filter ...]
//
// Two suites: the self-contained one (fixtures/ only) and the real-data one, the test files that
// read ../shared/data (SQuAD, PIAF, NQ, BEIR, real tokenizers) directly or through a test helper.
// Both run when ../shared/data is beside the checkout. Without it the real-data files are listed as
// not run, loudly; DPREP_REQUIRE_SHARED=1 (set by .ci/run) makes that an error instead.
// Test files that say REQUIRES_SLURM run only where a Slurm cluster answers (`sinfo`); elsewhere
// they are listed as not run, and DPREP_REQUIRE_SLURM=1 (.ci/run, after scripts/slurm-up.sh) makes
// that an error.
// Test files that say REQUIRES_CHROMIUM (the HTML report rendered in a headless browser) run only
// where a chromium answers (test/_chromium.ts finds it the same way); elsewhere they are listed as
// not run, and DPREP_REQUIRE_CHROMIUM=1 (.ci/run, after apt-get install chromium) makes that an error.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const sharedData = join(root, '..', 'shared', 'data');
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(relative(root, path));
  }
})(join(root, 'test'));
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

/** Whether a test file reads ../shared/data, itself or through a test-local module it imports. */
const READS_SHARED = /\bSHARED_DATA\b|shared\/data/;
const LOCAL_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*)['"](\.[^'"]+)['"]/g;
const memo = new Map();
function readsShared(file, seen = new Set()) {
  if (memo.has(file)) return memo.get(file);
  if (seen.has(file) || !existsSync(file)) return false;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  const testDir = join(root, 'test');
  // _paths.ts defines SHARED_DATA; importing it alone (for FIXTURES, CLI) does not read the data.
  let result = !file.endsWith('_paths.ts') && READS_SHARED.test(text);
  for (const m of text.matchAll(LOCAL_IMPORT)) {
    const dep = resolve(dirname(file), m[1]);
    if (!result && dep.startsWith(testDir) && readsShared(dep, seen)) result = true;
  }
  memo.set(file, result);
  return result;
}

let run = selected;
if (!existsSync(sharedData)) {
  const needData = selected.filter((f) => readsShared(join(root, f)));
  if (needData.length > 0) {
    const list = needData.map((f) => `  ${f}`).join('\n');
    if (process.env.DPREP_REQUIRE_SHARED === '1') {
      console.error(`run-tests: ${sharedData} is missing, and these test files need it (DPREP_REQUIRE_SHARED=1):\n${list}`);
      process.exit(1);
    }
    console.error(
      `run-tests: ${sharedData} is not beside this checkout: the real-data suite (${needData.length} test files) is NOT run:\n${list}\n` +
        'run-tests: put the shared data at ../shared/data to run them (CI always does).',
    );
    run = selected.filter((f) => !needData.includes(f));
  }
}
const dataLeftOut = selected.length - run.length;
const needSlurm = run.filter((f) => /\bREQUIRES_SLURM\b/.test(readFileSync(join(root, f), 'utf8')));
let slurmLeftOut = 0;
if (needSlurm.length > 0 && spawnSync('sinfo', ['-h'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) {
  const list = needSlurm.map((f) => `  ${f}`).join('\n');
  if (process.env.DPREP_REQUIRE_SLURM === '1') {
    console.error(`run-tests: no Slurm cluster answers (sinfo), and these test files need one (DPREP_REQUIRE_SLURM=1):\n${list}`);
    process.exit(1);
  }
  console.error(`run-tests: no Slurm cluster answers (sinfo): ${needSlurm.length} test files are NOT run:\n${list}\nrun-tests: bring one up with scripts/slurm-up.sh and export SLURM_CONF (CI always does).`);
  run = run.filter((f) => !needSlurm.includes(f));
  slurmLeftOut = needSlurm.length;
}
const needChromium = run.filter((f) => /\bREQUIRES_CHROMIUM\b/.test(readFileSync(join(root, f), 'utf8')));
let chromiumLeftOut = 0;
if (needChromium.length > 0 && !chromiumAnswers()) {
  const list = needChromium.map((f) => `  ${f}`).join('\n');
  if (process.env.DPREP_REQUIRE_CHROMIUM === '1') {
    console.error(`run-tests: no chromium answers --version, and these test files need one (DPREP_REQUIRE_CHROMIUM=1):\n${list}`);
    process.exit(1);
  }
  console.error(`run-tests: no chromium answers --version: ${needChromium.length} test files are NOT run:\n${list}\nrun-tests: apt-get install chromium, or set DPREP_CHROMIUM to a Chromium binary (CI always does).`);
  run = run.filter((f) => !needChromium.includes(f));
  chromiumLeftOut = needChromium.length;
}
/** Whether $DPREP_CHROMIUM, /usr/bin/chromium or a chromium on PATH answers --version (bounded). */
function chromiumAnswers() {
  for (const bin of [process.env.DPREP_CHROMIUM, '/usr/bin/chromium', 'chromium', 'chromium-browser'].filter(Boolean)) {
    if (bin.includes('/') && !existsSync(bin)) continue;
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && /chrom/i.test(r.stdout)) return true;
  }
  return false;
}
if (run.length === 0) process.exit(0);
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...run],
  { cwd: root, stdio: 'inherit' },
);
if (dataLeftOut) console.error(`run-tests: ${dataLeftOut} real-data test files were not run (no ../shared/data).`);
if (slurmLeftOut) console.error(`run-tests: ${slurmLeftOut} Slurm test files were not run (no cluster).`);
if (chromiumLeftOut) console.error(`run-tests: ${chromiumLeftOut} Chromium test files were not run (no browser).`);
process.exit(res.status ?? 1);
