/**
 * Encoding never crashes on model size: a BERT-base-shaped model (12 layers, hidden 768, random
 * weights) encodes with default options (the batch comes from the memory estimate; 64 × 256
 * tokens used to abort inside the wasm backend), and a batch that cannot fit is refused before
 * any work with the numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES } from '../_paths.ts';
import { readEmbeddingShards } from '../../src/io/embeddings.ts';
import { writeModelDir } from '../../src/trainer/checkpoint.ts';
import { parseBertConfig } from '../../src/trainer/config.ts';
import { initEncoderTensors } from '../../src/trainer/families.ts';
import { loadNative } from '../../src/trainer/native.ts';

function dprep(...args: (string | Record<string, string>)[]) {
  const env = typeof args[0] === 'object' ? (args.shift() as Record<string, string>) : {};
  return spawnSync(process.execPath, [CLI, ...(args as string[])], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1', ...env } });
}
const tmp = await mkdtemp(join(tmpdir(), 'dprep-encode-memory-'));

// BERT-base's encoder shape; a 2,000-piece vocabulary (the first lines of bert-tiny's) keeps the dir small.
const VOCAB = 2000;
const model = join(tmp, 'bert-base-shaped');
const vocabDir = join(tmp, 'vocab');
{
  await mkdir(vocabDir, { recursive: true });
  const lines = (await readFile(join(FIXTURES, 'models', 'bert-tiny', 'vocab.txt'), 'utf8')).split('\n').slice(0, VOCAB);
  await writeFile(join(vocabDir, 'vocab.txt'), lines.join('\n') + '\n');
  const config = parseBertConfig(
    { model_type: 'bert', vocab_size: VOCAB, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2, pad_token_id: 0 },
    'bert-base-shaped',
  );
  await writeModelDir(model, config, initEncoderTensors(config, 1, false), vocabDir, 'passage');
}
const corpus = join(tmp, 'corpus.jsonl');
await writeFile(
  corpus,
  ['the first passage', 'a second one, a little longer than the first', 'three', 'the fourth passage of this corpus', 'and a fifth']
    .map((text, i) => JSON.stringify({ passage_id: `p${i}`, title: `t${i}`, text }))
    .join('\n') + '\n',
);

for (const forward of ['native', 'tfjs'] as const) {
  test(`encode of a BERT-base-shaped model with default options picks a batch that fits and exits 0 (${forward} forward)`, { skip: forward === 'native' && !loadNative() ? 'native kernels not built' : false }, async () => {
    const out = join(tmp, `emb-${forward}`);
    const r = dprep(forward === 'tfjs' ? { DPREP_NATIVE_FORWARD: '0' } : {}, 'encode', '--model', model, '--corpus', corpus, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${forward} forward`));
    // The chosen batch is reported with its estimate: on tfjs (the 4 GB wasm heap) BERT-base at 256
    // tokens fits far fewer than 64; the native forward's buffers are plain memory (80% of the free RAM).
    const m = /batch (\d+) \(estimated (\d+\.\d+) GB of (\d+\.\d+) GB/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.ok(Number(m[1]) >= 1 && Number(m[1]) < (forward === 'tfjs' ? 20 : 65), m[0]);
    assert.ok(Number(m[2]) <= Number(m[3]), m[0]);
    if (forward === 'tfjs') assert.ok(Number(m[3]) <= 3.8, m[0]);
    const shards = [];
    for await (const s of readEmbeddingShards(out)) shards.push(s);
    assert.deepEqual(shards.flatMap((s) => s.ids), ['p0', 'p1', 'p2', 'p3', 'p4']);
    assert.equal(shards[0].vectors.length, 5 * 768);
    assert.ok(shards[0].vectors.every(Number.isFinite));
  });
}

test('a --batch that cannot fit is refused before any work (exit 2, with the estimate and the largest that fits)', () => {
  const out = join(tmp, 'emb-refused');
  const r = dprep('encode', '--model', model, '--corpus', corpus, '--out', out, '--batch', '100000');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--batch 100000 needs an estimated \d+\.\d+ GB of tensors per forward pass \(bert, 12 layers, hidden 768, 256 tokens\), over the budget of \d+\.\d GB .* the largest batch that fits is \d+/);
  assert.doesNotMatch(r.stderr, /Aborted|RuntimeError/);
  assert.equal(existsSync(out), false, 'nothing written');
});

test('embed refuses a --batch-size that cannot fit, naming that flag', async () => {
  const input = join(tmp, 'texts.jsonl');
  await writeFile(input, JSON.stringify({ text: 'hello' }) + '\n');
  const r = dprep('embed', '--model', model, '--input', input, '--out', join(tmp, 'vectors.jsonl'), '--batch-size', '100000');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--batch-size 100000 needs an estimated .* the largest batch that fits is \d+/);
  assert.equal(existsSync(join(tmp, 'vectors.jsonl')), false);
});
