/**
 * Line reading (src/io/lines.ts): dprep's byte splitter with strict UTF-8 decoding against Node's
 * readline with crlfDelay (what readLines used before, and which decodes invalid bytes as U+FFFD
 * silently), on the same file in the same run, alternating, three rounds.
 *
 * Run:  nice node --import tsx bench/lines-read.ts [passages=300000]
 * Data: writes .bench-data/lines-<n>.jsonl (100-word passages, some accented words) once.
 */
import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readLines } from '../src/io/lines.ts';
import { seededRandom } from '../src/util/random.ts';

const n = Number(process.argv[2] ?? 300000);
const dir = new URL('../.bench-data/', import.meta.url).pathname;
const file = join(dir, `lines-${n}.jsonl`);
if (!existsSync(file)) {
  mkdirSync(dir, { recursive: true });
  const rng = seededRandom(3);
  const words = ['alpha', 'beta', 'gamma', 'délta', 'river', 'été', 'mountain', 'city'];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ passage_id: `p${i}`, title: `T ${i}`, text: Array.from({ length: 100 }, () => words[Math.floor(rng() * words.length)]).join(' ') }));
  writeFileSync(file, lines.join('\n') + '\n');
}

async function* viaReadline(path: string): AsyncGenerator<{ text: string }> {
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  input.setEncoding('utf8');
  for await (const text of createInterface({ input, crlfDelay: Infinity })) yield { text };
}

const readers: [string, (f: string) => AsyncIterable<{ text: string }>][] = [
  ['node:readline (peer)', viaReadline],
  ['dprep readLines', (f) => readLines(f)],
];
const best = new Map<string, number>();
for (let round = 1; round <= 3; round++) {
  for (const [name, read] of readers) {
    const t0 = performance.now();
    let lines = 0;
    let chars = 0;
    for await (const { text } of read(file)) {
      lines++;
      chars += text.length;
    }
    const s = (performance.now() - t0) / 1000;
    best.set(name, Math.min(best.get(name) ?? Infinity, s));
    console.log(`round ${round}: ${name}: ${lines} lines, ${chars} chars, ${s.toFixed(2)} s`);
  }
}
const [peer, ours] = readers.map(([name]) => best.get(name)!);
console.log(`best of 3: readline ${peer.toFixed(2)} s, readLines ${ours.toFixed(2)} s, readline/readLines = ${(peer / ours).toFixed(2)}`);
