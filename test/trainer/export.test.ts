/**
 * dprep export, per layout and family: export → load the exported dir → the same vectors, bit for
 * bit; configs name the class the target library builds; DPR tensor names are DPR's; ST files say
 * how to pool. Tiny random models in each family's HF layout, real tokenizers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, SHARED_DATA } from '../_paths.ts';
import { parseEncoderConfig, type EncoderConfig } from '../../src/trainer/config.ts';
import { createEncoderModel, initEncoderTensors, tensorShapes, type Role } from '../../src/trainer/families.ts';
import { ENCODER_SETTINGS_FILE, readModelDir, writeModelDir, type EncoderSettings } from '../../src/trainer/checkpoint.ts';
import { loadEncoder } from '../../src/trainer/encoder.ts';
import { readSafetensors } from '../../src/trainer/safetensors.ts';
import { readSentenceTransformersDir } from '../../src/trainer/st-dir.ts';
import { loadTokenizer, padBatch } from '../../src/trainer/tokenizer.ts';
import { parseTemplate, prefixTemplate } from '../../src/trainer/template.ts';
import { exportModel, stPromptOf, type ExportFormat } from '../../src/trainer/export.ts';
import { UsageError } from '../../src/util/errors.ts';
import { getTf, TEST_BACKEND } from './_helpers.ts';

const BERT_VOCAB = join(FIXTURES, 'models', 'bert-tiny');
const CAMEMBERT_TOK = join(FIXTURES, 'models', 'camembert-tiny');
const small = { hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16, initializer_range: 0.2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };

interface Case {
  family: string;
  config: EncoderConfig;
  tokenizer: string;
  settings: EncoderSettings;
  formats: ExportFormat[];
  /** model_type / architectures of the hf export, per role. */
  hf: Record<Role, [string, string]>;
}

const DPR_SETTINGS: EncoderSettings = { pooling: 'cls', normalize: false, embed_title: true, max_length: 24 };
const CASES: Case[] = [
  {
    family: 'bert',
    config: parseEncoderConfig({ ...small, vocab_size: 30522, max_position_embeddings: 40 }, 'bert'),
    tokenizer: BERT_VOCAB,
    settings: DPR_SETTINGS,
    formats: ['hf', 'dpr', 'sentence-transformers'],
    hf: { query: ['bert', 'BertModel'], passage: ['bert', 'BertModel'] },
  },
  {
    family: 'dpr (projection 4)',
    config: parseEncoderConfig({ ...small, model_type: 'dpr', projection_dim: 4, vocab_size: 30522, max_position_embeddings: 40 }, 'dpr'),
    tokenizer: BERT_VOCAB,
    settings: DPR_SETTINGS,
    formats: ['hf', 'dpr'],
    hf: { query: ['dpr', 'DPRQuestionEncoder'], passage: ['dpr', 'DPRContextEncoder'] },
  },
  {
    family: 'camembert',
    config: parseEncoderConfig({ ...small, model_type: 'camembert', vocab_size: 32005, max_position_embeddings: 42, type_vocab_size: 1, layer_norm_eps: 1e-5 }, 'camembert'),
    tokenizer: CAMEMBERT_TOK,
    settings: { pooling: 'mean', normalize: true, embed_title: false, max_length: 24, query_template: 'query: {text}', passage_template: 'passage: {text}' },
    formats: ['hf', 'sentence-transformers'],
    hf: { query: ['camembert', 'CamembertModel'], passage: ['camembert', 'CamembertModel'] },
  },
  {
    family: 'distilbert',
    config: parseEncoderConfig({ model_type: 'distilbert', vocab_size: 30522, dim: 8, n_layers: 2, n_heads: 2, hidden_dim: 16, max_position_embeddings: 40, initializer_range: 0.2, dropout: 0, attention_dropout: 0 }, 'distilbert'),
    tokenizer: BERT_VOCAB,
    settings: { pooling: 'mean', normalize: false, embed_title: true, max_length: 24 },
    formats: ['hf', 'sentence-transformers'],
    hf: { query: ['distilbert', 'DistilBertModel'], passage: ['distilbert', 'DistilBertModel'] },
  },
];

const INPUTS = [
  { title: 'Paris', text: 'Paris is the capital of France.' },
  { text: 'the quick brown fox' },
  { title: 'Long', text: 'word '.repeat(60).trim() }, // truncated at max_length
];

/** A run dir like `dprep train` writes: query_encoder/ and passage_encoder/ (different seeds), each with its settings. */
async function makeRun(c: Case): Promise<string> {
  const run = await mkdtemp(join(tmpdir(), 'dprep-export-run-'));
  for (const [role, seed] of [['query', 3], ['passage', 4]] as const) {
    const dir = join(run, `${role}_encoder`);
    await writeModelDir(dir, c.config, initEncoderTensors(c.config, seed), c.tokenizer, role);
    await writeFile(join(dir, ENCODER_SETTINGS_FILE), JSON.stringify(c.settings));
  }
  return run;
}

const encodeWith = async (dir: string, role: Role) => {
  const enc = await loadEncoder(dir, { backend: TEST_BACKEND, role });
  const v = await enc.encode(INPUTS);
  enc.dispose();
  return v;
};

/** The vectors an ST dir's own settings give (prompt as the template, its pooling/normalization), computed by dprep's model. */
async function stVectors(dir: string, role: Role, config: EncoderConfig): Promise<Float32Array> {
  const st = await readSentenceTransformersDir(dir);
  const prefix = role === 'query' ? st.queryPrefix : st.passagePrefix;
  const tok = await loadTokenizer(st.modelDir, st.maxLength!, { template: parseTemplate(prefixTemplate(prefix), 'prompt') });
  const { tensors } = await readModelDir(st.modelDir, role);
  const model = createEncoderModel(await getTf(), config, tensors);
  const v = (await model.embed(padBatch(await tok.encode(INPUTS.map((x) => ({ text: x.text }))), tok.padId), st.pooling as 'cls' | 'mean', st.normalize).data()) as Float32Array;
  model.dispose();
  return v;
}

/** The same, from the source encoder's stored settings (its template, titles dropped as ST drops them). */
async function sourceVectors(dir: string, role: Role, c: Case): Promise<Float32Array> {
  const source = c.settings[`${role}_template`] ?? '{text}';
  const tok = await loadTokenizer(dir, c.settings.max_length, { template: parseTemplate(source, 'template') });
  const { tensors } = await readModelDir(dir, role);
  const model = createEncoderModel(await getTf(), c.config, tensors);
  const v = (await model.embed(padBatch(await tok.encode(INPUTS.map((x) => ({ text: x.text }))), tok.padId), c.settings.pooling, c.settings.normalize).data()) as Float32Array;
  model.dispose();
  return v;
}

const readJson = async (f: string) => JSON.parse(await readFile(f, 'utf8'));

for (const c of CASES) {
  for (const format of c.formats) {
    test(`${c.family} → ${format}: both encoders load back with the same vectors; config and layout as the target library expects`, async () => {
      const run = await makeRun(c);
      const out = join(await mkdtemp(join(tmpdir(), 'dprep-export-')), 'out');
      const written = await exportModel(run, out, { format });
      const subs = format === 'dpr' ? ['question_encoder', 'ctx_encoder'] : ['query_encoder', 'passage_encoder'];
      assert.deepEqual(written.map((w) => w.dir), subs);
      assert.deepEqual((await readdir(out)).sort(), [...subs].sort());
      for (const [i, role] of (['query', 'passage'] as const).entries()) {
        const dir = join(out, subs[i]);
        assert.deepEqual(await encodeWith(dir, role), await encodeWith(join(run, `${role}_encoder`), role), `${role} vectors`);
        const config = await readJson(join(dir, 'config.json'));
        const names = [...(await readSafetensors(join(dir, 'model.safetensors'))).tensors.keys()].sort();
        assert.deepEqual(await readJson(join(dir, ENCODER_SETTINGS_FILE)), c.settings);
        assert.ok(existsSync(join(dir, c.tokenizer === BERT_VOCAB ? 'vocab.txt' : 'tokenizer.json')));
        if (format === 'dpr') {
          const prefix = role === 'query' ? 'question_encoder.' : 'ctx_encoder.';
          assert.equal(config.model_type, 'dpr');
          assert.deepEqual(config.architectures, [role === 'query' ? 'DPRQuestionEncoder' : 'DPRContextEncoder']);
          assert.equal(config.projection_dim, c.config.projection_dim);
          const bare = [...tensorShapes(c.config).keys(), 'pooler.dense.weight', 'pooler.dense.bias'].filter((n) => c.config.projection_dim === 0 || !n.startsWith('pooler.'));
          const expected = bare.map((n) => prefix + (n.startsWith('encode_proj.') ? n : `bert_model.${n}`)).sort();
          assert.deepEqual(names, expected);
        } else {
          assert.deepEqual([config.model_type, config.architectures], [c.hf[role][0], [c.hf[role][1]]]);
        }
        if (format === 'sentence-transformers') {
          const modules = await readJson(join(dir, 'modules.json'));
          const types = ['sentence_transformers.models.Transformer', 'sentence_transformers.models.Pooling', ...(c.settings.normalize ? ['sentence_transformers.models.Normalize'] : [])];
          assert.deepEqual(modules.map((m: { type: string }) => m.type), types);
          assert.equal(modules[0].path, '');
          const pooling = await readJson(join(dir, '1_Pooling', 'config.json'));
          assert.equal(pooling.word_embedding_dimension, c.config.hidden_size);
          assert.equal(pooling.pooling_mode_cls_token, c.settings.pooling === 'cls');
          assert.equal(pooling.pooling_mode_mean_tokens, c.settings.pooling === 'mean');
          const prompts = (await readJson(join(dir, 'config_sentence_transformers.json'))).prompts;
          const template = c.settings[`${role}_template`];
          assert.deepEqual(prompts, template ? { [role]: template.replace('{text}', '') } : {});
          // What sentence-transformers reads from the files alone embeds as dprep did.
          assert.deepEqual(await stVectors(dir, role, c.config), await sourceVectors(join(run, `${role}_encoder`), role, c));
        }
      }
      await rm(run, { recursive: true, force: true });
      await rm(join(out, '..'), { recursive: true, force: true });
    });
  }
}

test('one --role: OUT is that encoder; a second export replaces OUT whole', async () => {
  const c = CASES[0];
  const run = await makeRun(c);
  const out = join(await mkdtemp(join(tmpdir(), 'dprep-export-')), 'q');
  await exportModel(run, out, { format: 'sentence-transformers', role: 'passage' });
  assert.ok(existsSync(join(out, 'modules.json')));
  const [w] = await exportModel(run, out, { format: 'dpr', role: 'passage' });
  assert.deepEqual([w.dir, w.architectures], ['', ['DPRContextEncoder']]);
  assert.equal(existsSync(join(out, 'modules.json')), false);
  assert.deepEqual(await encodeWith(out, 'passage'), await encodeWith(join(run, 'passage_encoder'), 'passage'));
});

test('one encoder dir (not a run dir) exports for each role', async () => {
  const c = CASES[1];
  const dir = join(await mkdtemp(join(tmpdir(), 'dprep-export-')), 'm');
  await writeModelDir(dir, c.config, initEncoderTensors(c.config, 9), c.tokenizer);
  const out = join(dir, '..', 'dpr');
  await exportModel(dir, out, { format: 'dpr' });
  for (const [sub, role] of [['question_encoder', 'query'], ['ctx_encoder', 'passage']] as const) {
    assert.deepEqual(await encodeWith(join(out, sub), role), await encodeWith(dir, role), sub);
  }
});

test('refusals name the reason: DPR needs BERT with CLS and no normalization; ST needs a prefix template; no overlap with the input', async () => {
  const camembert = await makeRun(CASES[2]);
  const distil = await makeRun(CASES[3]);
  const dprProj = await makeRun(CASES[1]);
  const out = join(await mkdtemp(join(tmpdir(), 'dprep-export-')), 'out');
  await assert.rejects(exportModel(camembert, out, { format: 'dpr' }), /model_type camembert cannot be exported as DPR: DPR's HF classes .* are BERT-based/);
  await assert.rejects(exportModel(distil, out, { format: 'dpr' }), /BERT-based/);
  const bertMean = await makeRun({ ...CASES[0], settings: { ...DPR_SETTINGS, pooling: 'mean' } });
  await assert.rejects(exportModel(bertMean, out, { format: 'dpr' }), /pooling is mean; DPR's HF classes pool the first token/);
  const bertNorm = await makeRun({ ...CASES[0], settings: { ...DPR_SETTINGS, normalize: true } });
  await assert.rejects(exportModel(bertNorm, out, { format: 'dpr' }), /L2-normalizes/);
  await assert.rejects(exportModel(dprProj, out, { format: 'sentence-transformers' }), /projection_dim 4\) cannot be a sentence-transformers Transformer module/);
  const e5 = await makeRun({ ...CASES[2], settings: { ...CASES[2].settings, passage_template: 'passage: {title} {text}' } });
  await assert.rejects(exportModel(e5, out, { format: 'sentence-transformers' }), /passage_template "passage: \{title\} \{text\}" cannot be a sentence-transformers prompt/);
  await assert.rejects(exportModel(camembert, join(camembert, 'query_encoder', 'x'), { format: 'hf' }), UsageError);
  await assert.rejects(exportModel(camembert, camembert, { format: 'hf' }), /inside \(or equal to\)/);
  await assert.rejects(exportModel(join(camembert, 'query_encoder'), camembert, { format: 'hf' }), /would delete the model/);
  await assert.rejects(exportModel(join(camembert, 'nothing'), out, { format: 'hf' }), /neither a model dir/);
  assert.equal(existsSync(out), false, 'no output after a refusal');
  assert.deepEqual((await readdir(join(out, '..'))).filter((n) => n.includes('tmp')), [], 'no temp dir left behind');
});

test('stPromptOf: only PREFIX{text} is a sentence-transformers prompt', () => {
  const table: [string | null, string | RegExp][] = [
    [null, ''],
    ['{text}', ''],
    ['query: {text}', 'query: '],
    ['Represent this sentence for searching relevant passages: {text}', 'Represent this sentence for searching relevant passages: '],
    ['{{x}} {text}', '{x} '],
    ['Title: {title} Text: {text}', /no \{title\}/],
    ['{text} ?', /nothing after \{text\}/],
  ];
  for (const [template, want] of table) {
    if (typeof want === 'string') assert.equal(stPromptOf(template, 'query_template'), want, String(template));
    else assert.throws(() => stPromptOf(template, 'query_template'), want, String(template));
  }
});

test('a sentence-transformers source dir (the shared sentence-camembert layout) exports its pooling into dprep_encoder.json', async () => {
  const c = CASES[2];
  const src = join(await mkdtemp(join(tmpdir(), 'dprep-export-')), 'st');
  await writeModelDir(src, c.config, initEncoderTensors(c.config, 5), CAMEMBERT_TOK);
  for (const f of ['modules.json', '1_Pooling/config.json', 'sentence_bert_config.json', 'config_sentence_transformers.json']) {
    const from = join(SHARED_DATA, 'models', 'camembert-base-tokenizer', f);
    await mkdir(join(src, f, '..'), { recursive: true });
    await writeFile(join(src, f), await readFile(from));
  }
  const out = join(src, '..', 'hf');
  await exportModel(src, out, { format: 'hf', role: 'query' });
  const settings = await readJson(join(out, ENCODER_SETTINGS_FILE));
  assert.deepEqual({ pooling: settings.pooling, normalize: settings.normalize, max_length: settings.max_length }, { pooling: 'mean', normalize: false, max_length: 128 });
  assert.equal(existsSync(join(out, 'modules.json')), false, 'hf export is the bare model');
});

test('the export command logs each encoder written with its class, and the ST notes', async () => {
  const { exportCommand } = await import('../../src/commands/export.ts');
  const run = await makeRun(CASES[2]);
  const out = join(await mkdtemp(join(tmpdir(), 'dprep-export-')), 'st');
  const logs: string[] = [];
  const result = await exportCommand.run({ model: run, format: 'sentence-transformers', out, role: 'both' }, { log: (m) => logs.push(m) });
  assert.deepEqual(result, { metrics: { encoders: 2 } });
  assert.match(logs[0], /query encoder → .*query_encoder \(sentence-transformers: model_type camembert, CamembertModel\)/);
  assert.ok(logs.some((l) => l.includes('prompt_name="passage"')), logs.join('\n'));
});
