/**
 * encode / eval / mine dense against embeddings whose model or corpus changed by content (issue 15):
 * a retrain in place is not "already complete", a same-size corpus edit is refused by readers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES } from '../_paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-embcli-'));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120000 });
const TINY = join(FIXTURES, 'models', 'bert-tiny');
const STACK = /^\s+at /m;

test('encode refuses after a retrain in place; eval and mine dense refuse a same-size corpus edit and another passage encoder', () => {
  assert.equal(dprep('convert', 'squad', '--input', join(FIXTURES, 'squad', 'tiny-v2.json'), '--out', 'rec.jsonl', '--corpus', 'corpus.jsonl').status, 0);
  for (const seed of ['1', '2']) assert.equal(dprep('init-model', '--config', join(TINY, 'config.json'), '--vocab', TINY, '--out', `m${seed}`, '--seed', seed).status, 0);
  let r = dprep('encode', '--model', 'm1', '--corpus', 'corpus.jsonl', '--out', 'emb');
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(readFileSync(join(tmp, 'emb', 'manifest.json'), 'utf8'), new RegExp(tmp), 'no absolute path in the manifest');
  r = dprep('encode', '--model', 'm1', '--corpus', 'corpus.jsonl', '--out', 'emb');
  assert.match(r.stderr, /already complete/);
  // The model "retrained" in place: same dir, other weights.
  const before = readFileSync(join(tmp, 'm1', 'model.safetensors'));
  copyFileSync(join(tmp, 'm2', 'model.safetensors'), join(tmp, 'm1', 'model.safetensors'));
  r = dprep('encode', '--model', 'm1', '--corpus', 'corpus.jsonl', '--out', 'emb');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /emb holds embeddings of another model: the encoder's files changed since they were made \(model\.safetensors\).*--overwrite/);
  assert.doesNotMatch(r.stderr, /already complete/);
  writeFileSync(join(tmp, 'm1', 'model.safetensors'), before);
  // eval with --model m2 (another passage encoder) and with a same-size edited corpus.
  const evalArgs = ['eval', '--examples', 'rec.jsonl', '--embeddings', 'emb', '--k', '1'];
  assert.equal(dprep(...evalArgs, '--model', 'm1', '--corpus', 'corpus.jsonl').status, 0);
  r = dprep(...evalArgs, '--model', 'm2', '--corpus', 'corpus.jsonl');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /made with another passage encoder than m2 \(files that differ: model\.safetensors\)/);
  const text = readFileSync(join(tmp, 'corpus.jsonl'), 'utf8');
  const edited = text.replace(/the/, 'thE');
  assert.equal(edited.length, text.length);
  writeFileSync(join(tmp, 'edited.jsonl'), edited);
  r = dprep(...evalArgs, '--model', 'm1', '--corpus', 'edited.jsonl');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /made from another corpus \(corpus\.jsonl, \d+ bytes, sha256 [0-9a-f]{64}\) than --corpus edited\.jsonl/);
  r = dprep('mine', 'dense', '--query-model', 'm1', '--embeddings', 'emb', '--examples', 'rec.jsonl', '--corpus', 'edited.jsonl', '--out', 'mined.jsonl');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /made from another corpus/);
  assert.doesNotMatch(r.stderr, STACK);
});
