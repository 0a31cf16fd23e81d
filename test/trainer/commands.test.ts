import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES, SHARED_DATA } from '../_paths.ts';
import { loadEncoder, openEncoder } from '../../src/trainer/encoder.ts';
import { readSafetensors } from '../../src/trainer/safetensors.ts';
import { TEST_BACKEND } from './_helpers.ts';

const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });

test('dprep init-model writes an HF model dir; the same seed gives the same bytes', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dprep-cli-'));
  const args = (out: string, seed: string) => ['init-model', '--config', join(FIXTURES, 'models', 'bert-tiny', 'config.json'), '--vocab', join(SHARED_DATA, 'models', 'bert-base-uncased-wordpiece'), '--out', out, '--seed', seed];
  for (const [out, seed] of [['a', '1'], ['b', '1'], ['c', '2']]) {
    const r = dprep(...args(join(tmp, out), seed));
    assert.equal(r.status, 0, r.stderr);
  }
  const bytes = (d: string) => readFile(join(tmp, d, 'model.safetensors'));
  assert.deepEqual(await bytes('a'), await bytes('b'));
  assert.notDeepEqual(await bytes('a'), await bytes('c'));
  const { tensors } = await readSafetensors(join(tmp, 'a', 'model.safetensors'));
  assert.deepEqual(tensors.get('embeddings.word_embeddings.weight')!.shape, [30522, 128]);
  assert.ok(tensors.has('pooler.dense.weight'));
  const config = JSON.parse(await readFile(join(tmp, 'a', 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['BertModel']);
  const bad = dprep('init-model', '--config', join(tmp, 'a', 'tokenizer_config.json'), '--vocab', join(tmp, 'a'), '--out', join(tmp, 'x'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown config field/);
});

test('dprep embed writes one vector per input line, equal to loadEncoder().encode', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dprep-cli-'));
  const model = join(tmp, 'tiny');
  assert.equal(dprep('init-model', '--config', join(FIXTURES, 'models', 'bert-tiny', 'config.json'), '--vocab', join(FIXTURES, 'models', 'bert-tiny'), '--out', model, '--seed', '3').status, 0);
  const inputs = [{ text: 'Who founded Normandy?' }, { text: 'Rollo agreed to swear fealty.', title: 'Normans' }, { text: 'Geology is the study of the Earth.' }];
  await writeFile(join(tmp, 'in.jsonl'), inputs.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = dprep('embed', '--model', model, '--input', join(tmp, 'in.jsonl'), '--out', join(tmp, 'out.jsonl'), '--backend', TEST_BACKEND, '--batch-size', '2');
  assert.equal(r.status, 0, r.stderr);
  const rows = (await readFile(join(tmp, 'out.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as number[]);
  assert.equal(rows.length, 3);
  assert.ok(rows.every((v) => v.length === 128));
  const enc = await loadEncoder(model, { backend: TEST_BACKEND, batchSize: 1 });
  const vecs = await enc.encode(inputs);
  enc.dispose();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 128; j++) assert.ok(Math.abs(rows[i][j] - vecs[i * 128 + j]) < 1e-5, `row ${i} dim ${j}`);
  }
  // Padding in a batch of 2 does not change a vector (masking works end to end).
  assert.notDeepEqual(rows[0], rows[1]);
  await writeFile(join(tmp, 'bad.jsonl'), '{"text": "ok"}\n{"txt": "typo"}\n');
  const bad = dprep('embed', '--model', model, '--input', join(tmp, 'bad.jsonl'), '--out', join(tmp, 'bad-out.jsonl'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.jsonl, line 2, field "text"/);
});

test('openEncoder takes the role\'s encoder of a run dir, and any other dir as a shared encoder', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'dprep-cli-'));
  const init = (out: string, seed: string) => dprep('init-model', '--config', join(FIXTURES, 'models', 'bert-tiny', 'config.json'), '--vocab', join(FIXTURES, 'models', 'bert-tiny'), '--out', out, '--seed', seed);
  assert.equal(init(join(tmp, 'run', 'query_encoder'), '1').status, 0);
  assert.equal(init(join(tmp, 'run', 'passage_encoder'), '2').status, 0);
  await cp(join(tmp, 'run', 'passage_encoder'), join(tmp, 'shared'), { recursive: true });
  const input = [{ title: 'Normans', text: 'Rollo agreed to swear fealty.' }];
  const vectors = async (enc: Awaited<ReturnType<typeof loadEncoder>>) => {
    const v = await enc.encode(input);
    enc.dispose();
    return v;
  };
  const opts = { backend: TEST_BACKEND, maxLength: 32 };
  const query = await vectors(await loadEncoder(join(tmp, 'run', 'query_encoder'), opts));
  const passage = await vectors(await loadEncoder(join(tmp, 'run', 'passage_encoder'), opts));
  assert.notDeepEqual(query, passage);
  assert.deepEqual(await vectors(await openEncoder(join(tmp, 'run'), 'query', opts)), query);
  assert.deepEqual(await vectors(await openEncoder(join(tmp, 'run'), 'passage', opts)), passage);
  assert.deepEqual(await vectors(await openEncoder(join(tmp, 'shared'), 'query', opts)), passage);
  await writeFile(join(tmp, 'shared', 'dprep_encoder.json'), '{"pooling": "mean",');
  await assert.rejects(openEncoder(join(tmp, 'shared'), 'query', opts), /shared[\/]dprep_encoder\.json.*invalid JSON/);
});
