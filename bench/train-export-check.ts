/**
 * Writes a dprep-initialized model (our safetensors writer) and dprep's forward output on fixed
 * ids to DIR, for test/trainer/reference/check_hf_safetensors.py to verify in Python.
 * Run: npx tsx bench/train-export-check.ts /tmp/x && /usr/bin/python3 test/trainer/reference/check_hf_safetensors.py /tmp/x
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTf } from '../src/trainer/backend.ts';
import { BertModel, initBertTensors } from '../src/trainer/bert.ts';
import { readModelDir, writeModelDir } from '../src/trainer/checkpoint.ts';
import { parseBertConfig } from '../src/trainer/config.ts';

const dir = process.argv[2] ?? '/tmp/dprep-hf-check';
const { tf } = await loadTf('auto');
const config = parseBertConfig({ vocab_size: 50, hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 48, max_position_embeddings: 16, initializer_range: 0.3 }, 'inline');
await writeModelDir(join(dir, 'model'), config, initBertTensors(config, 42), new URL('../fixtures/models/bert-tiny', import.meta.url).pathname);
const { tensors } = await readModelDir(join(dir, 'model'));
const model = new BertModel(tf, config, tensors);
const ids = [[2, 9, 17, 44, 3, 30, 3, 0], [2, 5, 3, 0, 0, 0, 0, 0]];
const typeIds = [[0, 0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0]];
const mask = [[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0, 0, 0]];
const seq = tf.tidy(() => model.forward({ ids: Int32Array.from(ids.flat()), typeIds: Int32Array.from(typeIds.flat()), mask: Int32Array.from(mask.flat()), batch: 2, seqLen: 8 }));
await writeFile(join(dir, 'dprep-output.json'), JSON.stringify({ ids, type_ids: typeIds, mask, sequence_output: seq.arraySync() }));
console.log(`wrote ${dir}`);
