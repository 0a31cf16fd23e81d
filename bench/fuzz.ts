/**
 * A small coverage-guided fuzzer for dprep's input parsers (issue 15), on V8's own block coverage
 * (inspector Profiler.takePreciseCoverage, which resets the counters at each take): an input that
 * runs a block of src/ not run before (or a known block a new number of times, counted in
 * powers of two, as AFL buckets hit counts) joins the corpus; inputs are mutated from the corpus
 * (bit flips, byte edits, deletions, duplications, the format's tokens, splices of two inputs).
 * Targets and oracles: test/fuzz/_targets.ts. A finding is written to test/fuzz/cases/<target>/ and
 * replayed by test/fuzz/regressions.test.ts.
 *
 * Why not Jazzer.js: @jazzer.js/core 4.0.0 installs offline, but its prebuilt libFuzzer addon
 * needs glibc 2.38 (this Debian 12 has 2.36), and the versions before it download the addon from
 * GitHub at install.
 *
 * Run:  node --import tsx bench/fuzz.ts [seconds per target=30] [target ...]   (bench/fuzz.sh)
 */
import { Session } from 'node:inspector';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Finding, python, TARGETS, type FuzzTarget } from '../test/fuzz/_targets.ts';

const seconds = Number(process.argv[2] ?? 30);
const only = process.argv.slice(3);
const casesDir = new URL('../test/fuzz/cases/', import.meta.url).pathname;

const session = new Session();
session.connect();
function post<T>(method: string, params: object = {}): T {
  let result: T | undefined;
  let error: Error | null = null;
  session.post(method, params, (err, res) => {
    error = err;
    result = res as T;
  });
  if (error) throw error;
  if (result === undefined) throw new Error(`${method}: the inspector did not answer synchronously`);
  return result;
}
post('Profiler.enable');
post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });

interface Coverage {
  result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[];
}
/** The blocks of src/ run since the last take, each with its hit-count bucket. */
function takeFeatures(): string[] {
  const out: string[] = [];
  for (const script of post<Coverage>('Profiler.takePreciseCoverage').result) {
    if (!script.url.includes('/src/')) continue;
    const file = script.url.slice(script.url.indexOf('/src/'));
    for (const fn of script.functions) for (const r of fn.ranges) if (r.count > 0) out.push(`${file}:${r.startOffset}:${r.endOffset}:${31 - Math.clz32(r.count)}`);
  }
  return out;
}

let state = 0x9e3779b9;
const rnd = (n: number) => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % n;
};

function mutate(input: Buffer, corpus: Buffer[], dict: string[]): Buffer {
  let b = Buffer.from(input);
  for (let k = 1 + rnd(4); k > 0; k--) {
    const at = rnd(b.length + 1);
    switch (rnd(8)) {
      case 0:
        if (b.length) b[rnd(b.length)] ^= 1 << rnd(8);
        break;
      case 1:
        if (b.length) b[rnd(b.length)] = rnd(256);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rnd(128)]), b.subarray(at)]);
        break;
      case 3: {
        const len = 1 + rnd(Math.max(1, Math.min(16, b.length - at)));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 4: {
        const len = 1 + rnd(Math.max(1, Math.min(32, b.length - at)));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 5:
      case 6:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(dict[rnd(dict.length)]), b.subarray(at)]);
        break;
      default: {
        const other = corpus[rnd(corpus.length)];
        const from = rnd(other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rnd(64))]);
      }
    }
  }
  return b.length > 4096 ? b.subarray(0, 4096) : b;
}

async function fuzz(t: FuzzTarget): Promise<{ execs: number; corpus: number; features: number; findings: number }> {
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const found = new Set<string>();
  let execs = 0;
  const run = async (input: Buffer): Promise<boolean> => {
    let finding: Finding | undefined;
    try {
      await t.check(input);
    } catch (err) {
      finding = err instanceof Finding ? err : new Finding(`check failed: ${(err as Error).stack}`);
    }
    execs++;
    if (finding) {
      const kind = finding.message.split(':')[0].slice(0, 80);
      if (!found.has(kind)) {
        found.add(kind);
        const dir = join(casesDir, t.name);
        mkdirSync(dir, { recursive: true });
        const name = createHash('sha1').update(input).digest('hex').slice(0, 12);
        writeFileSync(join(dir, `${name}.bin`), input);
        console.log(`  FINDING ${t.name}/${name}.bin: ${finding.message.slice(0, 300)}`);
      }
    }
    let fresh = false;
    for (const f of takeFeatures()) {
      if (!seen.has(f)) {
        seen.add(f);
        fresh = true;
      }
    }
    return fresh;
  };
  for (const s of t.seeds()) {
    await run(s);
    corpus.push(s);
  }
  const dict = t.dictionary;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const input = mutate(corpus[rnd(corpus.length)], corpus, dict);
    if (await run(input)) corpus.push(input);
  }
  return { execs, corpus: corpus.length, features: seen.size, findings: found.size };
}

console.log(`fuzz: ${seconds} s per target, V8 block coverage of src/ as the guide`);
for (const t of TARGETS.filter((t) => only.length === 0 || only.includes(t.name))) {
  const r = await fuzz(t);
  console.log(`${t.name}: ${r.execs} execs (${(r.execs / seconds).toFixed(0)}/s), corpus ${r.corpus}, coverage features ${r.features}, findings ${r.findings}`);
}
python.close();
post('Profiler.stopPreciseCoverage');
session.disconnect();
