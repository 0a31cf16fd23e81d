import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_DATA } from '../_paths.ts';
import { isSentenceTransformersDir, readSentenceTransformersDir, writeSentenceTransformersFiles, type StExport } from '../../src/trainer/st-dir.ts';
import { parseTemplate, prefixTemplate, renderTemplate } from '../../src/trainer/template.ts';
import { InputError } from '../../src/util/errors.ts';

const CAMEMBERT = join(SHARED_DATA, 'models', 'camembert-base-tokenizer');
const TRANSFORMER = { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' };
const POOLING = { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' };
const NORMALIZE = { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' };
const poolingCfg = (mode: string, extra: Record<string, unknown> = {}) => ({
  word_embedding_dimension: 384,
  pooling_mode_cls_token: mode === 'cls',
  pooling_mode_mean_tokens: mode === 'mean',
  pooling_mode_max_tokens: mode === 'max',
  pooling_mode_mean_sqrt_len_tokens: false,
  pooling_mode_weightedmean_tokens: false,
  pooling_mode_lasttoken: mode === 'lasttoken',
  ...extra,
});

/** A hand-made ST dir: file name → JSON content. */
async function stDir(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-st-'));
  for (const [name, value] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
  }
  return dir;
}

test('the shared sentence-camembert dir: mean pooling, no normalization, no prompts, max 128', async () => {
  assert.equal(isSentenceTransformersDir(CAMEMBERT), true);
  assert.deepEqual(await readSentenceTransformersDir(CAMEMBERT), {
    modelDir: CAMEMBERT,
    pooling: 'mean',
    normalize: false,
    queryPrefix: '',
    passagePrefix: '',
    maxLength: 128,
    lowercase: false,
  });
});

test('E5-style dir: Normalize module, query/passage prompts, similarity', async () => {
  const dir = await stDir({
    'modules.json': [TRANSFORMER, POOLING, NORMALIZE],
    '1_Pooling/config.json': poolingCfg('mean'),
    'sentence_bert_config.json': { max_seq_length: 512, do_lower_case: false },
    'config_sentence_transformers.json': { prompts: { query: 'query: ', passage: 'passage: ' }, default_prompt_name: null, similarity_fn_name: 'cosine' },
  });
  const st = await readSentenceTransformersDir(dir);
  assert.deepEqual(st, { modelDir: dir, pooling: 'mean', normalize: true, queryPrefix: 'query: ', passagePrefix: 'passage: ', maxLength: 512, lowercase: false, similarity: 'cosine' });
  assert.equal(renderTemplate(parseTemplate(prefixTemplate(st.queryPrefix), 'x'), { text: 'who?' }), 'query: who?');
});

test('prompts: "document" serves passages, default_prompt_name fills a missing role, legacy config names and subfolder models', async () => {
  const dir = await stDir({
    'modules.json': [{ ...TRANSFORMER, path: '0_Transformer' }, POOLING],
    '1_Pooling/config.json': poolingCfg('cls'),
    '0_Transformer/sentence_roberta_config.json': { max_seq_length: 256, do_lower_case: true },
    'config_sentence_transformers.json': { prompts: { document: 'doc: ', retrieval: 'Represent: ' }, default_prompt_name: 'retrieval' },
  });
  assert.deepEqual(await readSentenceTransformersDir(dir), {
    modelDir: join(dir, '0_Transformer'),
    pooling: 'cls',
    normalize: false,
    queryPrefix: 'Represent: ',
    passagePrefix: 'doc: ',
    maxLength: 256,
    lowercase: true,
  });
});

const REFUSED: [string, Record<string, unknown>, RegExp][] = [
  ['lasttoken pooling', { '1_Pooling/config.json': poolingCfg('lasttoken') }, /1_Pooling\/config.json, field "pooling_mode_lasttoken": lasttoken pooling is not one dprep computes/],
  ['max pooling', { '1_Pooling/config.json': poolingCfg('max') }, /field "pooling_mode_max_tokens": max pooling/],
  ['cls+mean', { '1_Pooling/config.json': poolingCfg('cls', { pooling_mode_mean_tokens: true }) }, /pooling modes cls\+mean are concatenated/],
  ['no mode', { '1_Pooling/config.json': poolingCfg('none') }, /no pooling_mode_\* is true/],
  ['Dense module', { 'modules.json': [TRANSFORMER, POOLING, { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' }] }, /modules.json, module 2, field "type": sentence_transformers.models.Dense is not a module dprep can run/],
  ['no Pooling', { 'modules.json': [TRANSFORMER] }, /modules are Transformer; dprep embeds with Transformer, Pooling\[, Normalize\]/],
  ['Normalize before Pooling', { 'modules.json': [TRANSFORMER, NORMALIZE, POOLING] }, /modules are Transformer,Normalize,Pooling/],
  ['prompt outside pooling', { '1_Pooling/config.json': poolingCfg('mean', { include_prompt: false }), 'config_sentence_transformers.json': { prompts: { query: 'q: ' } } }, /field "include_prompt": is false/],
  ['unknown default prompt', { 'config_sentence_transformers.json': { prompts: { query: 'q: ' }, default_prompt_name: 'passage' } }, /field "default_prompt_name": "passage" is not one of the prompts \(query\)/],
  ['bad max_seq_length', { 'sentence_bert_config.json': { max_seq_length: 'long' } }, /sentence_bert_config.json, field "max_seq_length": expected a positive integer/],
  ['broken JSON', { '1_Pooling/config.json': '{"pooling_mode_mean_tokens": tru' }, /1_Pooling\/config.json: not JSON/],
];

test('what dprep cannot embed the same way is refused, naming the file and field', async () => {
  for (const [name, override, message] of REFUSED) {
    const dir = await stDir({ 'modules.json': [TRANSFORMER, POOLING], '1_Pooling/config.json': poolingCfg('mean'), ...override });
    await assert.rejects(readSentenceTransformersDir(dir), (err: Error) => err instanceof InputError && message.test(err.message), name);
  }
  const lastToken = await stDir({ 'modules.json': [TRANSFORMER, POOLING], '1_Pooling/config.json': poolingCfg('lasttoken') });
  assert.equal((await readSentenceTransformersDir(lastToken, ['cls', 'mean', 'lasttoken'])).pooling, 'lasttoken');
});

test('the writer produces exactly the files and fields sentence-transformers reads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-st-out-'));
  await writeSentenceTransformersFiles(dir, { pooling: 'mean', normalize: true, dimension: 384, maxLength: 512, queryPrefix: 'query: ', passagePrefix: 'passage: ' });
  const read = async (f: string) => JSON.parse(await readFile(join(dir, f), 'utf8')) as unknown;
  assert.deepEqual((await readdir(dir)).sort(), ['1_Pooling', '2_Normalize', 'config_sentence_transformers.json', 'modules.json', 'sentence_bert_config.json']);
  assert.deepEqual(await read('modules.json'), [TRANSFORMER, POOLING, NORMALIZE]);
  // Only the five keys sentence-transformers 2.2 accepts (its Pooling(**config) rejects unknown ones).
  assert.deepEqual(await read('1_Pooling/config.json'), {
    word_embedding_dimension: 384,
    pooling_mode_cls_token: false,
    pooling_mode_mean_tokens: true,
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
  });
  assert.deepEqual(await read('sentence_bert_config.json'), { max_seq_length: 512, do_lower_case: false });
  assert.deepEqual(await read('config_sentence_transformers.json'), { prompts: { query: 'query: ', passage: 'passage: ' }, default_prompt_name: null, similarity_fn_name: 'cosine' });
});

test('write then read gives the settings back', async () => {
  const cases: StExport[] = [
    { pooling: 'cls', normalize: false, dimension: 768, maxLength: 256 },
    { pooling: 'mean', normalize: true, dimension: 384, maxLength: 512, queryPrefix: 'query: ', passagePrefix: 'passage: ' },
    { pooling: 'lasttoken', normalize: true, dimension: 64, maxLength: 128, queryPrefix: 'Represent this sentence for searching relevant passages: ' },
  ];
  for (const st of cases) {
    const dir = await mkdtemp(join(tmpdir(), 'dprep-st-rt-'));
    await writeSentenceTransformersFiles(dir, st);
    const back = await readSentenceTransformersDir(dir, ['cls', 'mean', 'lasttoken']);
    assert.deepEqual(back, {
      modelDir: dir,
      pooling: st.pooling,
      normalize: st.normalize,
      queryPrefix: st.queryPrefix ?? '',
      passagePrefix: st.passagePrefix ?? '',
      maxLength: st.maxLength,
      lowercase: false,
      similarity: st.normalize ? 'cosine' : 'dot',
    });
  }
});

test('prefixTemplate escapes braces in a prompt', () => {
  assert.equal(prefixTemplate('q {x}: '), 'q {{x}}: {text}');
  assert.equal(renderTemplate(parseTemplate(prefixTemplate('q {x}: '), 'x'), { text: 'a' }), 'q {x}: a');
  assert.equal(prefixTemplate('passage: ', true), 'passage: {title} {text}');
});
