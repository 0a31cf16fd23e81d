/**
 * Makes the fixtures bench/interop-check.py reads: tiny random models per family with real
 * tokenizers, each exported by dprep in every layout that applies, a few inputs encoded by
 * dprep, and `manifest.json` (format in interop-check.py's docstring).
 * Run: bench/interop-make.sh [DIR]   (default .bench-data/interop)
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadTf } from '../src/trainer/backend.ts';
import { parseEncoderConfig, type EncoderConfig } from '../src/trainer/config.ts';
import { ENCODER_SETTINGS_FILE, readModelDir, writeModelDir, type EncoderSettings } from '../src/trainer/checkpoint.ts';
import { createEncoderModel, initEncoderTensors, maxSequenceLength, type Role } from '../src/trainer/families.ts';
import { exportModel, EXPORT_SUBDIRS, type ExportFormat } from '../src/trainer/export.ts';
import { loadTokenizer, padBatch } from '../src/trainer/tokenizer.ts';
import { parseTemplate, renderTemplate } from '../src/trainer/template.ts';
import type { EncodeInput } from '../src/types.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const out = resolve(process.argv[2] ?? join(ROOT, '.bench-data', 'interop'));
const BERT_VOCAB = join(ROOT, 'fixtures', 'models', 'bert-tiny');
const CAMEMBERT = join(ROOT, 'fixtures', 'models', 'camembert-tiny');
const ROBERTA = join(ROOT, '..', 'shared', 'data', 'models', 'roberta-base');
const shape = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, initializer_range: 0.1 };
const MAX_LENGTH = 32;
const DPR: EncoderSettings = { pooling: 'cls', normalize: false, embed_title: true, max_length: MAX_LENGTH };

interface Model {
  name: string;
  config: EncoderConfig;
  tokenizer: string;
  settings: EncoderSettings;
  formats: ExportFormat[];
}

const MODELS: Model[] = [
  { name: 'bert', config: parseEncoderConfig({ ...shape, vocab_size: 30522, max_position_embeddings: 64 }, 'bert'), tokenizer: BERT_VOCAB, settings: DPR, formats: ['hf', 'dpr', 'sentence-transformers'] },
  {
    name: 'camembert',
    config: parseEncoderConfig({ ...shape, model_type: 'camembert', vocab_size: 32005, max_position_embeddings: 66, type_vocab_size: 1, layer_norm_eps: 1e-5, bos_token_id: 5, eos_token_id: 6 }, 'camembert'),
    tokenizer: CAMEMBERT, settings: { ...DPR, pooling: 'mean' }, formats: ['hf', 'sentence-transformers'],
  },
  {
    name: 'roberta',
    config: parseEncoderConfig({ ...shape, model_type: 'roberta', vocab_size: 50265, max_position_embeddings: 66, type_vocab_size: 1, layer_norm_eps: 1e-5, bos_token_id: 0, eos_token_id: 2 }, 'roberta'),
    tokenizer: ROBERTA, settings: DPR, formats: ['hf', 'sentence-transformers'],
  },
  {
    name: 'distilbert',
    config: parseEncoderConfig({ model_type: 'distilbert', vocab_size: 30522, dim: 32, n_layers: 2, n_heads: 4, hidden_dim: 64, max_position_embeddings: 64, initializer_range: 0.1 }, 'distilbert'),
    tokenizer: BERT_VOCAB, settings: { ...DPR, pooling: 'mean' }, formats: ['hf', 'sentence-transformers'],
  },
  {
    name: 'dpr-projection',
    config: parseEncoderConfig({ ...shape, model_type: 'dpr', projection_dim: 16, vocab_size: 30522, max_position_embeddings: 64 }, 'dpr'),
    tokenizer: BERT_VOCAB, settings: DPR, formats: ['hf', 'dpr'],
  },
  {
    // E5's recipe: "query: " / "passage: " prefixes, mean pooling, L2 normalization.
    name: 'e5-style',
    config: parseEncoderConfig({ ...shape, vocab_size: 30522, max_position_embeddings: 64 }, 'e5'),
    tokenizer: BERT_VOCAB,
    settings: { pooling: 'mean', normalize: true, embed_title: false, max_length: MAX_LENGTH, query_template: 'query: {text}', passage_template: 'passage: {text}' },
    formats: ['hf', 'sentence-transformers'],
  },
];

const INPUTS: EncodeInput[] = [
  { title: 'Paris', text: 'Paris is the capital and most populous city of France.' },
  { text: 'who wrote the declaration of independence' },
  { title: 'Une longue histoire', text: 'Il était une fois, dans un pays lointain, '.repeat(12).trim() }, // past MAX_LENGTH: truncated
];

/** dprep's ids and vectors for one exported encoder: its tokenizer (+ template) and its family's model. */
async function encode(tf: Awaited<ReturnType<typeof loadTf>>['tf'], dir: string, role: Role, m: Model, inputs: EncodeInput[]) {
  const source = m.settings[`${role}_template`];
  const template = source ? parseTemplate(source, `${role}_template`) : undefined;
  const maxLength = Math.min(m.settings.max_length, maxSequenceLength(m.config));
  const tok = await loadTokenizer(dir, maxLength, template ? { template } : {});
  const fed = m.settings.embed_title ? inputs : inputs.map((x) => ({ text: x.text }));
  const tokens = await tok.encode(fed);
  const { config, tensors } = await readModelDir(dir, role);
  const model = createEncoderModel(tf, config, tensors);
  const v = tf.tidy(() => model.embed(padBatch(tokens, tok.padId), m.settings.pooling, m.settings.normalize));
  const flat = (await v.data()) as Float32Array;
  v.dispose();
  model.dispose();
  const vectors = tokens.map((_, i) => Array.from(flat.subarray(i * model.dim, (i + 1) * model.dim)));
  return { ids: tokens.map((t) => t.ids), vectors, rendered: template ? fed.map((x) => renderTemplate(template, x)) : null, inputs: fed };
}

/** The library class a user would load an export with (interop-check.py's layout names). */
function layoutOf(format: ExportFormat, m: Model, role: Role): string {
  const dprClasses = format === 'dpr' || (m.config.model_type === 'dpr' && m.config.projection_dim > 0);
  if (dprClasses) return role === 'query' ? 'dpr-question' : 'dpr-context';
  return format;
}

const { tf } = await loadTf('auto');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const cases: object[] = [];
for (const [k, m] of MODELS.entries()) {
  const run = join(out, m.name, 'run');
  for (const [role, seed] of [['query', 10 * k + 1], ['passage', 10 * k + 2]] as const) {
    const dir = join(run, `${role}_encoder`);
    await writeModelDir(dir, m.config, initEncoderTensors(m.config, seed), m.tokenizer, role);
    await writeFile(join(dir, ENCODER_SETTINGS_FILE), JSON.stringify(m.settings, null, 2) + '\n');
  }
  for (const format of m.formats) {
    const target = join(out, m.name, format);
    const written = await exportModel(run, target, { format });
    for (const w of written) {
      const dir = join(target, w.dir);
      // SentenceTransformer.encode takes one string: ST cases feed texts only.
      const inputs = format === 'sentence-transformers' ? INPUTS.map((x) => ({ text: x.text })) : INPUTS;
      const enc = await encode(tf, dir, w.role, m, inputs);
      cases.push({
        name: `${m.name}-${format}-${w.role}`,
        layout: layoutOf(format, m, w.role),
        dir: join(m.name, format, EXPORT_SUBDIRS[format][w.role]),
        pooling: m.settings.pooling,
        normalize: m.settings.normalize,
        max_length: Math.min(m.settings.max_length, maxSequenceLength(m.config)),
        model_type: w.modelType,
        ...enc,
      });
      for (const note of w.notes) console.log(`  ${m.name} ${format} ${w.role}: ${note}`);
    }
  }
  console.log(`${m.name}: exported as ${m.formats.join(', ')}`);
}
await writeFile(join(out, 'manifest.json'), JSON.stringify({ dprep_max_length: MAX_LENGTH, cases }) + '\n');
console.log(`${cases.length} cases in ${join(out, 'manifest.json')}; check with: python3 bench/interop-check.py ${out}`);
