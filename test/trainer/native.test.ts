import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../../src/trainer/native.ts';
import { AdamW, clipByGlobalNorm, clipFactor } from '../../src/trainer/optimizer.ts';
import { seededRandom } from '../../src/util/random.ts';
import { getTf, maxAbsDiff, TEST_BACKEND } from './_helpers.ts';

const native = loadNative();
const skip = native ? false : 'native kernels not built (scripts/build-native.sh)';

const random = (n: number, seed: number, scale = 1) => {
  const rng = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
};

/** op(A)·op(B) for row-major matrices, in double. */
function reference(a: Float32Array, b: Float32Array, M: number, N: number, K: number, tA: boolean, tB: boolean): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[tA ? k * M + i : i * K + k] * b[tB ? j * K + k : k * N + j];
      out[i * N + j] = s;
    }
  return out;
}

test('native kernels load where the environment requires them (CI builds them)', () => {
  // .ci/run sets DPREP_REQUIRE_NATIVE=1 after scripts/build-native.sh, so the tests here cannot skip there.
  if (process.env.DPREP_REQUIRE_NATIVE === '1') assert.ok(native, 'DPREP_REQUIRE_NATIVE=1 but build/native/dprep_native.node did not load');
  else assert.equal(typeof loadNative, 'function');
});

test('native sgemm: every transpose combination, batches with shared operands, bias rows, bounds checks', { skip }, () => {
  const k = native!.kernels;
  const [M, N, K, batch] = [5, 7, 3, 4];
  for (const tA of [false, true])
    for (const tB of [false, true])
      for (const [sA, sB] of [[M * K, K * N], [0, K * N], [M * K, 0]]) {
        const a = random(batch * M * K, 1);
        const b = random(batch * K * N, 2);
        const bias = random(N, 3);
        const c = new Float32Array(batch * M * N);
        k.sgemm(a, b, c, batch, M, N, K, tA, tB, sA, sB, M * N, bias);
        for (let i = 0; i < batch; i++) {
          const want = reference(a.subarray(i * sA), b.subarray(i * sB), M, N, K, tA, tB).map((v, j) => v + bias[j % N]);
          const d = maxAbsDiff(c.subarray(i * M * N, (i + 1) * M * N), want);
          assert.ok(d < 1e-5, `tA=${tA} tB=${tB} strides ${sA},${sB} batch ${i}: max diff ${d}`);
        }
      }
  assert.throws(() => k.sgemm(new Float32Array(5), new Float32Array(6), new Float32Array(6), 1, 2, 3, 3, false, false, 0, 0, 0), /past the end/);
  assert.throws(() => k.sgemm([1, 2] as unknown as Float32Array, new Float32Array(2), new Float32Array(1), 1, 1, 1, 2, false, false, 0, 0, 0), /a must be a Float32Array/);
});

test('native AdamW, clipping and sums give the same bits as the JavaScript loops, on any thread count', { skip }, () => {
  assert.ok(native!.kernels.setElementwiseThreads(3) === 3);
  const names = ['enc.dense.weight', 'enc.dense.bias', 'enc.LayerNorm.weight'];
  // The first is long enough for the native loops to split it over threads.
  const sizes = [200_003, 1001, 7];
  const make = () => new Map(names.map((n, i) => [n, random(sizes[i], 10 + i)]));
  const [pJs, pNative] = [make(), make()];
  const js = new AdamW({ lr: 1e-3, weightDecay: 0.01 }, false);
  const nat = new AdamW({ lr: 1e-3, weightDecay: 0.01 }, true);
  for (let step = 0; step < 5; step++) {
    const g1 = new Map(names.map((n, i) => [n, random(sizes[i], 100 * step + i, 3)]));
    const g2 = new Map([...g1].map(([k, v]) => [k, v.slice()]));
    const [cJs, cNative] = [clipFactor(g1, 2, false), clipFactor(g2, 2, true)];
    assert.deepEqual(cNative, cJs);
    assert.ok(cJs.factor < 1, 'the gradients are large enough to be clipped');
    if (step % 2 === 0) {
      // clipping in place, then the update; or the factor passed to the update: the same bits
      assert.equal(clipByGlobalNorm(g1, 2, false), clipByGlobalNorm(g2, 2, true));
      for (const n of names) assert.deepEqual(g2.get(n), g1.get(n), `clipped ${n}`);
      js.apply(pJs, g1, 1e-3);
      nat.apply(pNative, g2, 1e-3);
    } else {
      js.apply(pJs, g1, 1e-3, cJs.factor);
      nat.apply(pNative, g2, 1e-3, cNative.factor);
    }
    for (const n of names) assert.deepEqual(pNative.get(n), pJs.get(n), `step ${step} ${n}`);
  }
  const a = random(100_001, 7);
  const b = random(100_001, 8);
  const want = Float32Array.from(a, (v, i) => v + b[i]);
  native!.kernels.addInto(a, b);
  assert.deepEqual(a, want);
});

test('tfjs matmuls on the native kernels: batched, transposed, broadcast, fused with a bias', { skip: skip || TEST_BACKEND !== 'wasm' ? 'wasm with native kernels only' : false }, async () => {
  const tf = await getTf();
  const cases: [number[], number[], boolean, boolean][] = [
    [[2, 3, 4, 5], [2, 3, 5, 6], false, false], // attention-like: batch × heads
    [[2, 3, 4, 5], [2, 3, 6, 5], false, true], // q·kᵀ
    [[6, 4], [6, 5], true, false], // dW = xᵀ·dy
    [[2, 4, 5], [5, 3], false, false], // one weight for every row block
    [[5, 4], [2, 5, 3], true, false], // broadcast left operand
  ];
  for (const [sa, sb, tA, tB] of cases) {
    const a = random(sa.reduce((x, y) => x * y), 21);
    const b = random(sb.reduce((x, y) => x * y), 22);
    const got = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), tA, tB).dataSync());
    const M = tA ? sa.at(-1)! : sa.at(-2)!;
    const K = tA ? sa.at(-2)! : sa.at(-1)!;
    const N = tB ? sb.at(-2)! : sb.at(-1)!;
    const batch = Math.max(a.length / (M * K), b.length / (K * N));
    for (let i = 0; i < batch; i++) {
      const ai = a.length === M * K ? a : a.subarray(i * M * K);
      const bi = b.length === K * N ? b : b.subarray(i * K * N);
      const d = maxAbsDiff(got.subarray(i * M * N, (i + 1) * M * N), reference(ai, bi, M, N, K, tA, tB));
      assert.ok(d < 1e-5, `${JSON.stringify([sa, sb, tA, tB])} batch ${i}: ${d}`);
    }
  }
  const x = random(12, 31);
  const w = random(15, 32);
  const bias = random(5, 33);
  const fused = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(x, [4, 3]), b: tf.tensor2d(w, [3, 5]), bias: tf.tensor1d(bias) }).dataSync());
  const want = reference(x, w, 4, 5, 3, false, false).map((v, j) => v + bias[j % 5]);
  assert.ok(maxAbsDiff(fused, want) < 1e-5);
  // Activations are not native: they go to tfjs's own kernel and still come out right.
  const relu = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(x, [4, 3]), b: tf.tensor2d(w, [3, 5]), bias: tf.tensor1d(bias), activation: 'relu' }).dataSync());
  assert.ok(maxAbsDiff(relu, want.map((v) => Math.max(0, v))) < 1e-5);
});

test('a training step computes the same gradients with native kernels, with tfjs kernels, and with the JS fused kernels on cpu', { skip: skip || TEST_BACKEND !== 'wasm' ? 'wasm with native kernels only' : false }, async () => {
  const probe = fileURLToPath(new URL('./_native_probe.ts', import.meta.url));
  const run = async (env: Record<string, string>) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', probe], { env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
    return JSON.parse(stdout) as { native: boolean; fused: boolean; loss: number; grads: Record<string, number[]> };
  };
  // wasm with the native matmuls and fused kernels; wasm with tfjs's own kernels and op chains;
  // cpu with the fused kernels in JavaScript. Dropout is on: all three must draw the same masks.
  const [withNative, without, cpu] = await Promise.all([run({}), run({ DPREP_NATIVE: '0' }), run({ DPREP_TEST_BACKEND: 'cpu' })]);
  assert.equal(withNative.native, true);
  assert.equal(without.native, false);
  assert.equal(cpu.fused, true);
  assert.equal(without.fused, false);
  // Relative to the largest gradient: some (key biases) are zero up to rounding noise.
  const scale = Math.max(...Object.values(without.grads).map((g) => Math.max(...g.map(Math.abs))));
  for (const [label, other] of [['native', withNative], ['cpu', cpu]] as const) {
    assert.ok(Math.abs(other.loss - without.loss) < 1e-5, `${label}: loss ${other.loss} vs ${without.loss}`);
    for (const [key, g] of Object.entries(without.grads)) {
      const d = maxAbsDiff(other.grads[key], g) / scale;
      assert.ok(d < 1e-4, `${label} ${key}: relative difference ${d}`);
    }
  }
});

test('native scatter-add (embedding gradient) equals the JavaScript kernel, ids outside the table dropped', { skip }, async () => {
  const { scatterAddRows } = await import('../../src/trainer/kernels.ts');
  const rows = 500;
  const x = random(rows * 8, 41);
  const rng = seededRandom(42);
  const ids = Int32Array.from({ length: rows }, (_, i) => (i % 50 === 0 ? -1 : i % 77 === 0 ? 100 : Math.floor(rng() * 100)));
  const want = new Float32Array(100 * 8);
  scatterAddRows(x, ids, 8, want);
  const got = new Float32Array(100 * 8).fill(7); // the kernel clears its output first
  native!.kernels.scatterAddRows(x, ids, got, 8);
  assert.deepEqual(got, want);
  assert.throws(() => native!.kernels.scatterAddRows(x, new Float32Array(3) as unknown as Int32Array, got, 8), /Int32Array/);
});

test('native gatherAddRows: rows of up to three tables added in float32, ids outside a table refused', { skip }, () => {
  const k = native!.kernels;
  const H = 5;
  const [t1, t2, t3] = [random(7 * H, 11), random(4 * H, 12), random(2 * H, 13)];
  const [i1, i2, i3] = [Int32Array.from([6, 0, 3]), Int32Array.from([1, 3, 3]), Int32Array.from([0, 1, 1])];
  const out = new Float32Array(3 * H);
  k.gatherAddRows!(out, H, t1, i1, t2, i2, t3, i3);
  for (let r = 0; r < 3; r++)
    for (let j = 0; j < H; j++) assert.equal(out[r * H + j], Math.fround(Math.fround(t1[i1[r] * H + j] + t2[i2[r] * H + j]) + t3[i3[r] * H + j]));
  k.gatherAddRows!(out, H, t1, i1);
  assert.deepEqual([...out.subarray(H, 2 * H)], [...t1.subarray(0, H)]);
  assert.throws(() => k.gatherAddRows!(out, H, t1, i1, t2, Int32Array.from([1, 4, 0])), /id 4 of row 1 is outside table 2 \(4 rows\)/);
  assert.throws(() => k.gatherAddRows!(out, H, t1, Int32Array.from([1, 2])), /one row of out each/);
});
