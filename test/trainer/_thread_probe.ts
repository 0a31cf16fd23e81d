/**
 * Child process of backend.test.ts: one GradCache step of a small bi-encoder on the wasm backend with
 * the thread count from DPREP_WASM_THREADS; prints the threads used, the loss and a hash of every gradient.
 * It does not call process.exit: the test also checks that XNNPACK's pool threads let the process end.
 */
import { createHash } from 'node:crypto';
import { loadTf } from '../../src/trainer/backend.ts';
import { BiEncoder } from '../../src/trainer/biencoder.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import type { TextTokenizer } from '../../src/trainer/tokenizer.ts';
import type { BiEncoderBatch } from '../../src/trainer/data.ts';
import { seededRandom } from '../../src/util/random.ts';
import { tinyConfig } from './_helpers.ts';

const { tf, threads } = await loadTf('wasm');
// Big enough that XNNPACK splits its GEMMs over threads: [4·48, 64] × [64, 128] and larger.
const config = tinyConfig({ vocab_size: 500, hidden_size: 64, intermediate_size: 128, num_attention_heads: 2, num_hidden_layers: 2, max_position_embeddings: 64, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
const randomIds = (len: number, seed: number): TextTokenizer => {
  const rng = seededRandom(seed);
  return { maxLength: len, async encode(inputs) {
    return inputs.map(() => ({ ids: [2, ...Array.from({ length: len - 2 }, () => 4 + Math.floor(rng() * 490)), 3], typeIds: new Array(len).fill(0) }));
  } };
};
const model = new BiEncoder(tf, { query: config, passage: config }, { query: initBertTensors(config, 1), passage: initBertTensors(config, 2) },
  { query: randomIds(16, 3), passage: randomIds(48, 4) }, { pooling: 'cls', normalize: false, shared: false });
const batch: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
for (let i = 0; i < 4; i++) {
  batch.questions.push({ text: 'q' });
  batch.positiveIndex.push(batch.passages.length);
  batch.passages.push({ text: 'positive' }, { text: 'hard negative' });
}
const { loss, grads } = await model.lossAndGrads(batch, 2, 7);
const hash = createHash('sha256');
for (const key of [...grads.keys()].sort()) hash.update(key).update(Buffer.from(grads.get(key)!.buffer));
console.log(JSON.stringify({ threads, loss, hash: hash.digest('hex') }));
