import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli.ts';
import { INIT_MARKER } from '../../src/commands/init-model.ts';
import { FIXTURES } from '../_paths.ts';

/** Runs the CLI in-process; returns the exit code and what it printed on stderr. */
async function dprep(...argv: string[]): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const [err, write] = [console.error, process.stderr.write];
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stderr: lines.join('\n') };
  } finally {
    console.error = err;
    process.stderr.write = write;
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'dprep-guards-'));
const corpus = join(tmp, 'corpus.jsonl');
writeFileSync(corpus, ['a', 'b', 'c'].map((id, i) => JSON.stringify({ passage_id: id, title: 't', text: `passage number ${i} about ${id}` })).join('\n') + '\n');

test('index bm25 --out: replaces only an absent or empty directory or an earlier index; anything else is refused and kept', async () => {
  // [what --out holds before, expected exit]
  const cases: [string, (dir: string) => void, number][] = [
    ['absent', () => {}, 0],
    ['empty', (d) => mkdirSync(d), 0],
    ['a project folder', (d) => (mkdirSync(d), writeFileSync(join(d, 'notes.txt'), 'mine\n')), 2],
    ['a header.json that is not an index', (d) => (mkdirSync(d), writeFileSync(join(d, 'header.json'), '{"format":"other"}\n')), 2],
    ['a file', (d) => writeFileSync(d, 'mine\n'), 2],
  ];
  for (const [name, make, code] of cases) {
    const out = join(tmp, `idx-${name.replaceAll(' ', '-')}`);
    make(out);
    const r = await dprep('index', 'bm25', '--corpus', corpus, '--out', out, '--threads', '1');
    assert.equal(r.code, code, `${name}: ${r.stderr}`);
    if (code === 0) {
      assert.ok(existsSync(join(out, 'header.json')), name);
      // An index dprep made is replaced by a rebuild.
      assert.equal((await dprep('index', 'bm25', '--corpus', corpus, '--out', out, '--threads', '1')).code, 0, `${name}: rebuild`);
    } else {
      assert.match(r.stderr, new RegExp(`--out ${out.replaceAll('.', '\\.')}: (holds|is a file)`), name);
      if (name === 'a project folder') assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine\n');
    }
  }
});

test('index bm25 --out: the corpus\'s own folder is refused before anything is deleted', async () => {
  const folder = join(tmp, 'data');
  mkdirSync(folder);
  writeFileSync(join(folder, 'corpus.jsonl'), readFileSync(corpus));
  const r = await dprep('index', 'bm25', '--corpus', join(folder, 'corpus.jsonl'), '--out', folder);
  assert.equal(r.code, 2);
  assert.deepEqual(readdirSync(folder), ['corpus.jsonl']);
});

test('init-model --out: replaces an earlier init-model dir, refuses a trained model or other directory', async () => {
  const args = (out: string) => ['init-model', '--config', join(FIXTURES, 'models', 'bert-tiny', 'config.json'), '--vocab', join(FIXTURES, 'models', 'bert-tiny'), '--out', out, '--seed', '2'];
  const model = join(tmp, 'model');
  assert.equal((await dprep(...args(model))).code, 0);
  assert.ok(existsSync(join(model, INIT_MARKER)));
  const first = readFileSync(join(model, 'model.safetensors'));
  assert.equal((await dprep(...args(model))).code, 0, 'an untrained dprep model dir is replaced');
  assert.deepEqual(readFileSync(join(model, 'model.safetensors')), first);

  // What train leaves: the same files, no marker (its encoders are written by the trainer, not init-model).
  const trained = join(tmp, 'trained');
  mkdirSync(trained);
  for (const f of readdirSync(model)) if (f !== INIT_MARKER) writeFileSync(join(trained, f), readFileSync(join(model, f)));
  writeFileSync(join(trained, 'model.safetensors'), 'trained weights');
  const r = await dprep(...args(trained));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out .*trained: holds .*model\.safetensors.*not a model directory from init-model/);
  assert.equal(readFileSync(join(trained, 'model.safetensors'), 'utf8'), 'trained weights');
  rmSync(trained, { recursive: true });
});
