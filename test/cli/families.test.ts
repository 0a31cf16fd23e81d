/**
 * The families, tokenizers and templates through the CLI, as a user runs them: init-model from a
 * family's config and tokenizer, train, encode, eval, embed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES, SHARED_DATA } from '../_paths.ts';
import { readEmbeddingShards } from '../../src/io/embeddings.ts';
import { loadEncoder } from '../../src/trainer/encoder.ts';
import { TEST_BACKEND } from '../trainer/_helpers.ts';

const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });
const ok = (r: ReturnType<typeof dprep>) => assert.equal(r.status, 0, r.stderr);
const tmp = await mkdtemp(join(tmpdir(), 'dprep-families-'));
const BERT_TINY = join(FIXTURES, 'models', 'bert-tiny');
// One short epoch on one worker: what these tests check is the wiring, not learning.
const TRAIN = ['--batch-size', '8', '--hard-negatives', '0', '--epochs', '1', '--max-query-len', '32', '--max-passage-len', '64', '--backend', TEST_BACKEND, '--workers', '1'];

let converted = false;
/** The first `n` records of the PIAF fixture converted to DPR records, and its corpus. */
async function piaf(n: number): Promise<{ records: string; corpus: string }> {
  const dir = join(tmp, 'piaf');
  if (!converted) ok(dprep('convert', 'piaf', '--input', join(FIXTURES, 'piaf', 'piaf-mini-train.json'), '--out', join(dir, 'all.jsonl'), '--corpus', join(dir, 'corpus.jsonl')));
  converted = true;
  const records = join(dir, `first-${n}.jsonl`);
  await writeFile(records, (await readFile(join(dir, 'all.jsonl'), 'utf8')).split('\n').slice(0, n).join('\n') + '\n');
  return { records, corpus: join(dir, 'corpus.jsonl') };
}

async function shardVectors(dir: string): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const shard of readEmbeddingShards(dir)) parts.push(shard.vectors);
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

test('camembert: init-model with the real tokenizer → train on PIAF → encode → eval, model_type recorded', async () => {
  const { records, corpus } = await piaf(16);
  const model = join(tmp, 'cb');
  ok(dprep('init-model', '--config', join(FIXTURES, 'models', 'camembert-tiny', 'config.json'), '--tokenizer', join(FIXTURES, 'models', 'camembert-tiny'), '--out', model, '--seed', '1'));
  assert.equal(JSON.parse(await readFile(join(model, 'config.json'), 'utf8')).model_type, 'camembert');
  assert.ok(existsSync(join(model, 'tokenizer.json')) && existsSync(join(model, 'tokenizer_config.json')));
  const run = join(tmp, 'runs', 'fr1');
  ok(dprep('train', '--train', records, '--query-model', model, '--out', run, '--embed-title', ...TRAIN));
  assert.equal(JSON.parse(await readFile(join(run, 'passage_encoder', 'config.json'), 'utf8')).model_type, 'camembert');
  const emb = join(tmp, 'emb-fr1');
  ok(dprep('encode', '--model', run, '--corpus', corpus, '--out', emb, '--max-length', '64'));
  const manifest = JSON.parse(await readFile(join(emb, 'manifest.json'), 'utf8'));
  assert.equal(manifest.model.model_type, 'camembert');
  assert.equal(manifest.count, 89);
  const metricsFile = join(tmp, 'fr1.metrics.json');
  ok(dprep('eval', '--model', run, '--examples', records, '--corpus', corpus, '--embeddings', emb, '--k', '1,5', '--out', metricsFile));
  const metrics = JSON.parse(await readFile(metricsFile, 'utf8'));
  assert.equal(metrics.model_type, 'camembert');
  assert.equal(metrics.queries, 16);
  assert.ok(metrics['top@5'] >= metrics['top@1'] && metrics['top@5'] <= 1);
});

test('E5-style: templates, mean pooling and normalization are stored by train and used by encode', async () => {
  const { records, corpus } = await piaf(8);
  const model = join(tmp, 'bt');
  ok(dprep('init-model', '--config', join(BERT_TINY, 'config.json'), '--vocab', BERT_TINY, '--out', model, '--seed', '2'));
  const run = join(tmp, 'runs', 'e5');
  ok(dprep('train', '--train', records, '--query-model', model, '--out', run, ...TRAIN, '--query-template', 'query: {text}', '--passage-template', 'passage: {title} {text}', '--pooling', 'mean', '--normalize'));
  const stored = JSON.parse(await readFile(join(run, 'passage_encoder', 'dprep_encoder.json'), 'utf8'));
  assert.deepEqual(
    { pooling: stored.pooling, normalize: stored.normalize, embed_title: stored.embed_title, role: stored.role, q: stored.query_template, p: stored.passage_template },
    { pooling: 'mean', normalize: true, embed_title: true, role: 'passage', q: 'query: {text}', p: 'passage: {title} {text}' },
  );
  const emb = join(tmp, 'emb-e5');
  ok(dprep('encode', '--model', run, '--corpus', corpus, '--out', emb, '--max-length', '64'));
  const manifest = JSON.parse(await readFile(join(emb, 'manifest.json'), 'utf8'));
  assert.deepEqual([manifest.model.pooling, manifest.model.normalize, manifest.model.template], ['mean', true, 'passage: {title} {text}']);
  const v = await shardVectors(emb);
  for (let i = 0; i < manifest.count; i++) {
    const norm = Math.hypot(...v.subarray(i * 128, (i + 1) * 128));
    assert.ok(Math.abs(norm - 1) < 1e-5, `passage ${i} has norm ${norm}`);
  }
  // The stored template is what encode used: the library with it explicitly gives the same first vector …
  const passages = (await readFile(corpus, 'utf8')).trim().split('\n').slice(0, 1).map((l) => JSON.parse(l));
  const enc = await loadEncoder(join(run, 'passage_encoder'), { backend: TEST_BACKEND, maxLength: 64, passageTemplate: 'passage: {title} {text}', log: () => {} });
  const first = await enc.encode(passages.map((p) => ({ title: p.title, text: p.text })));
  enc.dispose();
  for (let j = 0; j < 128; j++) assert.ok(Math.abs(first[j] - v[j]) < 1e-5, `dim ${j}`);
  // … and another template changes the vectors.
  const other = join(tmp, 'emb-e5-other');
  ok(dprep('encode', '--model', run, '--corpus', corpus, '--out', other, '--max-length', '64', '--passage-template', 'Title: {title} Text: {text}'));
  assert.notDeepEqual(await shardVectors(other), v);
  // A bad template is refused before any model loads.
  const bad = dprep('encode', '--model', join(tmp, 'no-such-model'), '--corpus', corpus, '--out', join(tmp, 'x'), '--passage-template', 'passage: {body}');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--passage-template: unknown field \{body\}/);
  const badTrain = dprep('train', '--train', records, '--query-model', join(tmp, 'no-such-model'), '--out', join(tmp, 'y'), '--query-template', 'query:');
  assert.equal(badTrain.status, 2);
  assert.match(badTrain.stderr, /--query-template: template "query:" has no \{text\}/);
});

test('distilbert-shaped and roberta-shaped models: init-model from their configs, train through the CLI', async () => {
  const { records } = await piaf(8);
  const shrink = async (from: string, name: string, over: Record<string, unknown>) => {
    const config = { ...JSON.parse(await readFile(from, 'utf8')), ...over };
    const file = join(tmp, `${name}.json`);
    await writeFile(file, JSON.stringify(config));
    return file;
  };
  const distil = await shrink(join(SHARED_DATA, 'models', 'tiny-distilbert-onnx', 'config.json'), 'distil', { dim: 32, hidden_dim: 64, n_layers: 1 });
  const roberta = await shrink(join(SHARED_DATA, 'models', 'distilroberta-base-config', 'config.json'), 'roberta', { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2 });
  for (const [name, config, tokenizer, type] of [
    ['distil', distil, join(SHARED_DATA, 'models', 'bert-base-uncased-wordpiece'), 'distilbert'],
    ['rob', roberta, join(SHARED_DATA, 'models', 'roberta-base'), 'roberta'],
  ] as const) {
    const model = join(tmp, name);
    ok(dprep('init-model', '--config', config, '--tokenizer', tokenizer, '--out', model, '--seed', '3'));
    const run = join(tmp, 'runs', name);
    const r = dprep('train', '--train', records, '--query-model', model, '--out', run, ...TRAIN);
    ok(r);
    assert.match(r.stderr, /train: train\.loss \d/, type);
    assert.equal(JSON.parse(await readFile(join(run, 'query_encoder', 'config.json'), 'utf8')).model_type, type);
  }
  // RoBERTa pads with <pad> = 1: a short input's vector is the same alone and padded in a batch.
  const enc = await loadEncoder(join(tmp, 'runs', 'rob', 'query_encoder'), { backend: TEST_BACKEND, log: () => {} });
  const alone = await enc.encode([{ text: 'Hello world' }]);
  const batched = await enc.encode([{ text: 'Hello world' }, { text: 'A much longer question that needs padding around the first one' }]);
  enc.dispose();
  for (let j = 0; j < enc.dim; j++) assert.ok(Math.abs(alone[j] - batched[j]) < 1e-5, `dim ${j}`);
});

test('init-model refuses an unsupported model_type and a tokenizer of another model, before writing anything', async () => {
  const gpt2 = join(tmp, 'gpt2.json');
  await writeFile(gpt2, JSON.stringify({ model_type: 'gpt2', vocab_size: 50257, n_embd: 32 }));
  const out = join(tmp, 'never');
  const r = dprep('init-model', '--config', gpt2, '--tokenizer', join(SHARED_DATA, 'models', 'roberta-base'), '--out', out);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /gpt2\.json.*field "model_type".*"bert".*"camembert".*"t5".*got "gpt2"/);
  const wrong = dprep('init-model', '--config', join(BERT_TINY, 'config.json'), '--tokenizer', join(FIXTURES, 'models', 'camembert-tiny'), '--out', out);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /config\.json.*field "vocab_size".*is 30522, but .*tokenizer\.json has 32005 tokens/);
  assert.ok(!existsSync(out));
});

test('embed says once that it ignores titles for an encoder trained without them', async () => {
  const model = join(tmp, 'notitle');
  ok(dprep('init-model', '--config', join(BERT_TINY, 'config.json'), '--vocab', BERT_TINY, '--out', model, '--seed', '4'));
  await writeFile(join(model, 'dprep_encoder.json'), JSON.stringify({ pooling: 'cls', normalize: false, embed_title: false, max_length: 32, role: 'passage' }));
  const input = join(tmp, 'titled.jsonl');
  await writeFile(input, [{ text: 'a', title: 'T' }, { text: 'b' }, { text: 'c', title: 'U' }].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = dprep('embed', '--model', model, '--input', input, '--out', join(tmp, 'v.jsonl'), '--backend', TEST_BACKEND);
  ok(r);
  assert.equal(r.stderr.match(/titles are ignored/g)?.length, 1, r.stderr);
  assert.match(r.stderr, /titled\.jsonl line 1 .*passage encoder was trained without them/);
  const rows = (await readFile(join(tmp, 'v.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as number[]);
  // Ignored means dropped: "T" + "a" embeds as "a" alone.
  const enc = await loadEncoder(model, { backend: TEST_BACKEND, log: () => {} });
  const a = await enc.encode([{ text: 'a' }]);
  enc.dispose();
  for (let j = 0; j < 128; j++) assert.ok(Math.abs(rows[0][j] - a[j]) < 1e-5);
});
