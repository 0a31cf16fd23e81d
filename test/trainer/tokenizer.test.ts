import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_DATA } from '../_paths.ts';
import { basicTokenize, loadTokenizer, padBatch, truncateLongestFirst } from '../../src/trainer/tokenizer.ts';

const VOCAB_DIR = join(SHARED_DATA, 'models', 'bert-base-uncased-wordpiece');

/** A dir with only vocab.txt, so loadTokenizer takes the WordPiece path. */
async function vocabOnlyDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-vocab-'));
  await copyFile(join(VOCAB_DIR, 'vocab.txt'), join(dir, 'vocab.txt'));
  return dir;
}

test('known bert-base-uncased ids (pair, with type ids) from both tokenizers', async () => {
  const input = { title: 'Hello, world! The unaffable quick brown fox.', text: 'Who jumped?' };
  const want = [101, 7592, 1010, 2088, 999, 1996, 14477, 20961, 3468, 4248, 2829, 4419, 1012, 102, 2040, 5598, 1029, 102];
  for (const dir of [VOCAB_DIR, await vocabOnlyDir()]) {
    const [got] = await (await loadTokenizer(dir, 64)).encode([input]);
    assert.deepEqual(got.ids, want, dir);
    assert.deepEqual(got.typeIds, [...new Array(14).fill(0), 1, 1, 1, 1]);
  }
});

const TEXTS = [
  'The Normans (Norman: Nourmands; French: Normands; Latin: Normanni) were the people',
  'Café Déjà vu — naïve façade, ÉCOLE, Ångström',
  '北京大学 is in 北京. 東京!',
  'zero\u200bwidth and BOM\ufeffinside, tabs\tand\nnewlines',
  "Don't stop: U.S.A.'s $5,000.50 (approx.) #hashtag @user",
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'a'.repeat(120) + ' tail',
  'Ελληνικά кириллица العربية हिन्दी',
  '',
];

test('vocab.txt WordPiece equals the tokenizers package on varied text', async () => {
  const hf = await loadTokenizer(VOCAB_DIR, 512);
  const wp = await loadTokenizer(await vocabOnlyDir(), 512);
  for (const text of TEXTS) {
    assert.deepEqual((await wp.encode([{ text }]))[0], (await hf.encode([{ text }]))[0], JSON.stringify(text));
  }
});

test('truncation: single inputs and longest-first pairs agree with the tokenizers package', async () => {
  for (const maxLength of [5, 8, 11, 16]) {
    const hf = await loadTokenizer(VOCAB_DIR, maxLength);
    const wp = await loadTokenizer(await vocabOnlyDir(), maxLength);
    for (const input of [
      { text: TEXTS[0] },
      { title: 'Normans', text: TEXTS[0] },
      { title: TEXTS[1], text: TEXTS[0] },
      { title: 'one two three four five six', text: 'alpha beta gamma delta epsilon zeta' },
    ]) {
      const a = (await wp.encode([input]))[0];
      assert.ok(a.ids.length <= maxLength);
      assert.deepEqual(a, (await hf.encode([input]))[0], `${maxLength} ${JSON.stringify(input).slice(0, 60)}`);
    }
  }
});

test('basic tokenizer and truncation helpers', () => {
  assert.deepEqual(basicTokenize("Hello, WORLD! it's", true), ['hello', ',', 'world', '!', 'it', "'", 's']);
  assert.deepEqual(basicTokenize('Café', false), ['Café']);
  assert.deepEqual(truncateLongestFirst([1, 2, 3, 4], [5, 6], 4), [[1, 2], [5, 6]]);
  assert.deepEqual(truncateLongestFirst([1, 2], [5, 6, 7], 3), [[1], [5, 6]]);
});

test('padBatch pads to the longest input with mask 0', () => {
  const b = padBatch([{ ids: [101, 7, 102], typeIds: [0, 0, 0] }, { ids: [101, 102], typeIds: [0, 0] }]);
  assert.equal(b.seqLen, 3);
  assert.deepEqual([...b.ids], [101, 7, 102, 101, 102, 0]);
  assert.deepEqual([...b.mask], [1, 1, 1, 1, 1, 0]);
});
