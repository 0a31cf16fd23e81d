/**
 * Damaged model weights are refused on every command that loads a model (issue 15): NaN/Inf in a
 * tensor (named), a config with fewer layers than the checkpoint holds (the unused tensors named),
 * a truncated safetensors file (the tensor named). Exit 2, no stack trace, no output written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../../src/trainer/safetensors.ts';
import { CLI, FIXTURES } from '../_paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-model-integrity-'));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 180000 });
const TINY = join(FIXTURES, 'models', 'bert-tiny');
const STACK = /^\s+at /m;
const TENSOR = 'encoder.layer.1.attention.self.query.weight';

function setup(): void {
  assert.equal(dprep('convert', 'squad', '--input', join(FIXTURES, 'squad', 'tiny-v2.json'), '--out', 'rec.jsonl', '--corpus', 'corpus.jsonl').status, 0);
  writeFileSync(join(tmp, 'texts.jsonl'), '{"text":"who won super bowl 50"}\n');
  let r = dprep('init-model', '--config', join(TINY, 'config.json'), '--vocab', TINY, '--out', 'good', '--seed', '1');
  assert.equal(r.status, 0, r.stderr);
  r = dprep('encode', '--model', 'good', '--corpus', 'corpus.jsonl', '--out', 'emb');
  assert.equal(r.status, 0, r.stderr);
}
setup();

/** A copy of the good model (as a model dir and as a run dir holding both encoders) with `damage` applied. */
function damagedModel(name: string, damage: (dir: string) => void): { model: string; run: string } {
  const model = join(tmp, name);
  cpSync(join(tmp, 'good'), model, { recursive: true });
  damage(model);
  const run = join(tmp, `${name}-run`);
  mkdirSync(run);
  for (const role of ['query', 'passage']) cpSync(model, join(run, `${role}_encoder`), { recursive: true });
  return { model, run };
}

function setValue(value: number) {
  return (dir: string) => {
    const file = join(dir, 'model.safetensors');
    const { tensors } = decodeSafetensors(readFileSync(file), file);
    tensors.get(TENSOR)!.data[5] = value;
    writeFileSync(file, encodeSafetensors(tensors));
  };
}

const nan = damagedModel('nan', setValue(NaN));

/** Every command that loads a model, given the damaged one; `out` must not appear. */
const COMMANDS: { name: string; args: (m: { model: string; run: string }) => string[]; out: string }[] = [
  { name: 'embed', args: (m) => ['embed', '--model', m.model, '--input', 'texts.jsonl', '--out', 'vectors.jsonl'], out: 'vectors.jsonl' },
  { name: 'encode', args: (m) => ['encode', '--model', m.model, '--corpus', 'corpus.jsonl', '--out', 'emb-bad'], out: 'emb-bad' },
  { name: 'eval', args: (m) => ['eval', '--model', m.run, '--examples', 'rec.jsonl', '--corpus', 'corpus.jsonl', '--k', '1', '--run-out', 'run.trec'], out: 'run.trec' },
  { name: 'eval --query-model', args: (m) => ['eval', '--query-model', m.model, '--embeddings', 'emb', '--examples', 'rec.jsonl', '--corpus', 'corpus.jsonl', '--k', '1', '--run-out', 'run2.trec'], out: 'run2.trec' },
  { name: 'mine dense', args: (m) => ['mine', 'dense', '--query-model', m.model, '--embeddings', 'emb', '--examples', 'rec.jsonl', '--corpus', 'corpus.jsonl', '--out', 'mined.jsonl'], out: 'mined.jsonl' },
  { name: 'train --query-model', args: (m) => ['train', '--train', 'rec.jsonl', '--query-model', m.model, '--out', 'trained', '--hard-negatives', '0', '--max-steps', '1', '--batch-size', '2', '--workers', '1'], out: 'trained' },
  { name: 'train --passage-model', args: (m) => ['train', '--train', 'rec.jsonl', '--query-model', 'good', '--passage-model', m.model, '--out', 'trained2', '--hard-negatives', '0', '--max-steps', '1', '--batch-size', '2', '--workers', '1'], out: 'trained2' },
  { name: 'export', args: (m) => ['export', '--model', m.run, '--format', 'hf', '--out', 'exported'], out: 'exported' },
];

for (const c of COMMANDS) {
  test(`${c.name} refuses NaN weights, naming the tensor (exit 2, nothing written)`, () => {
    const r = dprep(...c.args(nan));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`nan(-run/(query|passage)_encoder)?/model\\.safetensors: non-finite values in ${TENSOR.replace(/\./g, '\\.')}: NaN at flat index 5`));
    assert.doesNotMatch(r.stderr, STACK);
    assert.equal(existsSync(join(tmp, c.out)), false, `${c.out} written`);
  });
}

test('mine rescore refuses a cross-encoder with Inf weights, naming the tensor', () => {
  const dir = join(tmp, 'cross-inf');
  cpSync(join(FIXTURES, 'trainer', 'cross-bert'), dir, { recursive: true });
  const file = join(dir, 'model.safetensors');
  const { tensors } = decodeSafetensors(readFileSync(file), file);
  const name = [...tensors.keys()].find((n) => n.endsWith('classifier.weight'))!;
  tensors.get(name)!.data[0] = -Infinity;
  writeFileSync(file, encodeSafetensors(tensors));
  const mined = dprep('mine', 'bm25', '--examples', 'rec.jsonl', '--corpus', 'corpus.jsonl', '--out', 'bm25.jsonl', '--negatives', '1', '--skip-top', '0');
  assert.equal(mined.status, 0, mined.stderr);
  const r = dprep('mine', 'rescore', '--cross-encoder', dir, '--examples', 'bm25.jsonl', '--out', 'rescored.jsonl', '--threshold', '0.5');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`tensor "${name.replace(/\./g, '\\.')}": holds non-finite values \\(-Infinity at flat index 0\\)`));
  assert.doesNotMatch(r.stderr, STACK);
});

const DAMAGES: { what: string; damage: (dir: string) => void; error: RegExp }[] = [
  { what: '+Inf in a tensor', damage: setValue(Infinity), error: /non-finite values in encoder\.layer\.1\.attention\.self\.query\.weight: Infinity at flat index 5/ },
  {
    what: 'a config with fewer layers than the checkpoint',
    damage: (d) => writeFileSync(join(d, 'config.json'), readFileSync(join(d, 'config.json'), 'utf8').replace(/"num_hidden_layers": *2/, '"num_hidden_layers": 1')),
    error: /model\.safetensors: unexpected: encoder\.layer\.1\.attention\.output\.LayerNorm\.bias, .*encoder\.layer\.1\.output\.dense\.weight/,
  },
  {
    what: 'a config with more layers than the checkpoint',
    damage: (d) => writeFileSync(join(d, 'config.json'), readFileSync(join(d, 'config.json'), 'utf8').replace(/"num_hidden_layers": *2/, '"num_hidden_layers": 3')),
    error: /model\.safetensors: missing: encoder\.layer\.2\./,
  },
  {
    what: 'a truncated model.safetensors',
    damage: (d) => {
      const file = join(d, 'model.safetensors');
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    },
    error: /model\.safetensors, tensor "[^"]+", field "data_offsets": .* do not fit .*truncated/,
  },
];

for (const d of DAMAGES) {
  test(`embed and train refuse ${d.what}, naming it`, () => {
    const m = damagedModel(d.what.replace(/\W+/g, '-'), d.damage);
    for (const c of [COMMANDS[0], COMMANDS[5]]) {
      const r = dprep(...c.args(m));
      assert.equal(r.status, 2, `${c.name}: ${r.stderr}`);
      assert.match(r.stderr, d.error, c.name);
      assert.doesNotMatch(r.stderr, STACK, c.name);
    }
  });
}
