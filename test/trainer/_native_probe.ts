/** Prints one bi-encoder training step's loss and gradients as JSON (native kernels per DPREP_NATIVE). */
import { BiEncoder } from '../../src/trainer/biencoder.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import { loadNative } from '../../src/trainer/native.ts';
import { fusedOps } from '../../src/trainer/fused.ts';
import { getTf, tinyConfig } from './_helpers.ts';

const tf = await getTf();
const config = tinyConfig({ initializer_range: 0.5, hidden_size: 16, intermediate_size: 32, num_attention_heads: 4, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
const tok = (maxLength: number) => ({
  maxLength,
  encode: async (inputs: { text: string }[]) => inputs.map(({ text }) => {
    const ids = [2, ...[...text].map((c) => 4 + (c.charCodeAt(0) % 56)), 3].slice(0, maxLength);
    return { ids, typeIds: ids.map(() => 0) };
  }),
});
const model = new BiEncoder(tf, { query: config, passage: config }, { query: initBertTensors(config, 1), passage: initBertTensors(config, 2) }, { query: tok(12), passage: tok(20) }, { pooling: 'cls', normalize: false, shared: false });
const batch = { questions: [{ text: 'who won' }, { text: 'where is it now' }, { text: 'when' }], passages: [{ text: 'the broncos won it' }, { text: 'nothing here' }, { text: 'in paris' }, { text: 'no' }, { text: 'in 1990 or so' }, { text: 'later' }], positiveIndex: [0, 2, 4] };
const { loss, grads } = await model.lossAndGrads(batch, 2, 5);
process.stdout.write(JSON.stringify({ native: loadNative() !== undefined, fused: fusedOps(tf).fused, loss, grads: Object.fromEntries([...grads].map(([k, v]) => [k, [...v]])) }));
