/**
 * dprep side of bench/encode-bench.sh: encodes the first --limit passages of a corpus with
 * encodeCorpus (what `dprep encode` runs) and prints one JSON line: passages/s, padding, useful
 * GFLOP/s (the FLOPs of the real tokens, padding excluded, the same formula as encode-torch.py), the
 * FLOP/s dprep executed (less under cls pooling: see `executed`) and
 * the sgemm rate of the native addon measured in the same process.
 * --dump-ids FILE writes the token ids (one JSON array per passage, corpus order) for the PyTorch peer.
 * Usage: npx tsx bench/encode-throughput.ts --model DIR --corpus C.jsonl [--limit N] [--batch B]
 *          [--workers W] [--no-bucketing] [--no-overlap] [--max-length 256] [--dump-ids FILE]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readCorpus } from '../src/io/corpus.ts';
import { encodeCorpus } from '../src/search/vector/encode.ts';
import { loadEncoder } from '../src/trainer/encoder.ts';
import { readEncoderConfig } from '../src/trainer/config.ts';
import { loadNative } from '../src/trainer/native.ts';
import type { Passage } from '../src/types.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, corpus: { type: 'string' }, limit: { type: 'string' }, batch: { type: 'string' }, workers: { type: 'string' },
    'no-bucketing': { type: 'boolean' }, 'no-overlap': { type: 'boolean' }, 'max-length': { type: 'string' }, 'dump-ids': { type: 'string' }, label: { type: 'string' },
  },
});
const limit = a.limit ? Number(a.limit) : Infinity;
const passages: Passage[] = [];
for await (const p of readCorpus(a.corpus!)) {
  if (passages.length >= limit) break;
  passages.push(p);
}
async function* stream() {
  yield* passages;
}

function sgemmRate(n = 1024, reps = 5): number {
  const native = loadNative();
  if (!native) return NaN;
  const x = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const y = x.slice();
  const z = new Float32Array(n * n);
  native.kernels.sgemm(x, y, z, 1, n, n, n, false, false, 0, 0, 0);
  const t = performance.now();
  for (let r = 0; r < reps; r++) native.kernels.sgemm(x, y, z, 1, n, n, n, false, false, 0, 0, 0);
  return (2 * n ** 3 * reps) / ((performance.now() - t) / 1000) / 1e9;
}

// Before any replica sets OpenBLAS to one thread per call: the rate on every core.
const sgemm = sgemmRate();
const maxLength = Number(a['max-length'] ?? 256);
const t0 = performance.now();
const enc = await loadEncoder(a.model!, {
  role: 'passage', maxLength, log: () => {}, bucketing: !a['no-bucketing'], workers: Number(a.workers ?? 1),
  ...(a.batch ? { batchSize: Number(a.batch) } : {}),
});
const loadSeconds = (performance.now() - t0) / 1000;
const c = await readEncoderConfig(join(a.model!, 'config.json'));
// Token ids as the encoder feeds them (same tokenizer, template and truncation).
const prepared = (await enc.prepare(passages.map((p) => ({ title: p.title, text: p.text })))) as unknown as { tokens: { ids: number[] }[] };
const lengths = prepared.tokens.map((t) => t.ids.length);
if (a['dump-ids']) await writeFile(a['dump-ids'], prepared.tokens.map((t) => JSON.stringify(t.ids)).join('\n') + '\n');
// Useful FLOPs: per layer and sequence of n tokens, n·(8H² + 4HI) for the dense products plus 4n²H for attention.
const H = c.hidden_size;
const flops = lengths.reduce((f, n) => f + c.num_hidden_layers * (n * (8 * H * H + 4 * H * c.intermediate_size) + 4 * n * n * H), 0);
// What dprep's native forward executes under cls pooling: its last layer projects keys and values of
// every token, but queries, attention output and feed-forward of the first token alone.
const lastLayer = (n: number) => 4 * n * H * H + (4 * H * H + 4 * H * c.intermediate_size) + 4 * n * H;
const executed = enc.forward === 'native' && enc.pooling === 'cls'
  ? lengths.reduce((f, n) => f + (c.num_hidden_layers - 1) * (n * (8 * H * H + 4 * H * c.intermediate_size) + 4 * n * n * H) + lastLayer(n), 0)
  : flops;
// Replicas start in the background: one small call first so the timing is of encoding, not thread start-up.
if (enc.workers > 1) await enc.encode(passages.slice(0, enc.workers * enc.batchSize).map((p) => ({ title: p.title, text: p.text })));
const statsBefore = { ...enc.stats };
const out = await mkdtemp(join(tmpdir(), 'dprep-encode-bench-'));
const t = performance.now();
await encodeCorpus(stream(), enc, out, { overlap: !a['no-overlap'] });
const seconds = (performance.now() - t) / 1000;
enc.dispose();
await rm(out, { recursive: true, force: true });
const s = { tokens: enc.stats.tokens - statsBefore.tokens, padded: enc.stats.padded - statsBefore.padded, inOrder: enc.stats.paddedInOrder - statsBefore.paddedInOrder };
console.log(JSON.stringify({
  impl: 'dprep', label: a.label ?? '', hidden: H, layers: c.num_hidden_layers, passages: passages.length, batch: enc.batchSize, workers: enc.workers,
  bucketing: !a['no-bucketing'], overlap: !a['no-overlap'], load_s: Number(loadSeconds.toFixed(1)), seconds: Number(seconds.toFixed(2)),
  passages_per_s: Number((passages.length / seconds).toFixed(2)), useful_gflops: Number((flops / seconds / 1e9).toFixed(2)), executed_gflops: Number((executed / seconds / 1e9).toFixed(2)), forward: enc.forward,
  mean_tokens: Number((s.tokens / passages.length).toFixed(1)), padding: Number((1 - s.tokens / s.padded).toFixed(4)), padding_corpus_order: Number((1 - s.tokens / s.inOrder).toFixed(4)),
  sgemm_gflops: Number(sgemm.toFixed(2)), blas: loadNative()?.kernels.blasConfig() ?? 'none',
}));
