// Peak tfjs memory of one inference forward (embed in one tf.tidy) of B sequences of L tokens: the
// figures estimateEncodeMemory (src/trainer/memory.ts) is calibrated on.
// Usage: npx tsx bench/encode-mem-probe.ts MODEL_DIR B L     (DPREP_NATIVE=0: tfjs's own kernels)
import { loadTf } from '../src/trainer/backend.ts';
import { readModelDir } from '../src/trainer/checkpoint.ts';
import { createEncoderModel } from '../src/trainer/families.ts';
const [dir, B, L] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const { tf } = await loadTf('wasm');
const { config, tensors } = await readModelDir(dir);
const model = createEncoderModel(tf, config, tensors, 'probe');
const before = tf.memory().numBytes;
const ids = new Int32Array(B * L).fill(5); const mask = new Int32Array(B * L).fill(1); const typeIds = new Int32Array(B * L);
let peak = 0;
const t0 = Date.now();
const out = tf.tidy(() => { const v = model.embed({ ids, mask, typeIds, batch: B, seqLen: L } as any, 'cls', false); peak = tf.memory().numBytes; return v; });
await out.data();
const heap = (tf.backend() as any).wasm.HEAPU8.length;
console.log(JSON.stringify({ B, L, weights: before, acts: peak - before, perTokenLayerFloats: (peak - before) / 4 / (B * L) / config.num_hidden_layers, heap, ms: Date.now() - t0 }));
