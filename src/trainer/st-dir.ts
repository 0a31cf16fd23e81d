/**
 * sentence-transformers model dirs: read how one embeds (pooling, normalization, prompts, max
 * length) and write that layout for an export.
 *
 * Layout (sentence-transformers 2.x / 3.x, `SentenceTransformer._load_sbert_model` and `save`):
 * - `modules.json`: `[{ idx, name, path, type }]`, e.g. Transformer (path "" = the HF model in the
 *   dir itself), `sentence_transformers.models.Pooling` (path `1_Pooling`), optional
 *   `sentence_transformers.models.Normalize` (path `2_Normalize`, no files).
 * - `1_Pooling/config.json`: `word_embedding_dimension` and `pooling_mode_cls_token`,
 *   `_mean_tokens`, `_max_tokens`, `_mean_sqrt_len_tokens` (2.x), `_weightedmean_tokens`,
 *   `_lasttoken` (2.3+), `include_prompt` (2.4+).
 * - `sentence_bert_config.json` (older: `sentence_roberta_config.json`, …): `max_seq_length`,
 *   `do_lower_case`.
 * - `config_sentence_transformers.json`: `prompts` (name → text prepended to the input),
 *   `default_prompt_name`, `similarity_fn_name` (3.x), `__version__`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../util/errors.ts';

/** Pooling modes sentence-transformers knows, by its own names (`Pooling.POOLING_MODES`). */
export type StPooling = 'cls' | 'mean' | 'max' | 'mean_sqrt_len_tokens' | 'weightedmean' | 'lasttoken';

/** How a sentence-transformers dir embeds, in dprep's terms. */
export interface StSettings {
  /** Where the HF model (config.json, weights, tokenizer) is: the Transformer module's folder. */
  modelDir: string;
  pooling: StPooling;
  /** A Normalize module follows the pooling (L2, so dot product = cosine). */
  normalize: boolean;
  /** Prompts prepended to queries / passages ('' when none). */
  queryPrefix: string;
  passagePrefix: string;
  /** `max_seq_length` of sentence_bert_config.json, when set. */
  maxLength?: number;
  /** `do_lower_case`: texts are lowercased before tokenizing. */
  lowercase: boolean;
  /** `similarity_fn_name` (3.x), when set. */
  similarity?: string;
}

const POOLING_KEYS: readonly (readonly [string, StPooling])[] = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];
const LEGACY_CONFIGS = ['sentence_bert_config.json', 'sentence_roberta_config.json', 'sentence_distilbert_config.json', 'sentence_camembert_config.json', 'sentence_albert_config.json', 'sentence_xlm-roberta_config.json', 'sentence_xlnet_config.json'];
/** Names a passage prompt goes by: ST's docs and models use "passage", "document" and "corpus". */
const PASSAGE_PROMPTS = ['passage', 'document', 'corpus'];

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(file, undefined, undefined, `cannot read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(file, undefined, undefined, `not JSON: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A module's kind: the last part of its class path (`sentence_transformers.models.Pooling` → `Pooling`). */
const kindOf = (type: string) => type.split('.').pop() ?? type;

/** A dir is a sentence-transformers one when it has modules.json. */
export function isSentenceTransformersDir(dir: string): boolean {
  return existsSync(join(dir, 'modules.json'));
}

/**
 * Reads a sentence-transformers dir; refuses what dprep cannot embed the same way (other modules,
 * combined or unsupported pooling modes, prompts excluded from pooling) with an InputError.
 * @param supported the pooling modes the caller's model can compute (default cls and mean)
 * @example const st = await readSentenceTransformersDir('models/e5-small-v2'); // { pooling: 'mean', normalize: true, queryPrefix: 'query: ', … }
 */
export async function readSentenceTransformersDir(dir: string, supported: readonly StPooling[] = ['cls', 'mean']): Promise<StSettings> {
  const modulesFile = join(dir, 'modules.json');
  const modules = await readJson(modulesFile);
  if (!Array.isArray(modules) || modules.length === 0) throw new InputError(modulesFile, undefined, undefined, 'expected a non-empty array of modules');
  const kinds = modules.map((m, i) => {
    if (!isObject(m) || typeof m.type !== 'string' || typeof m.path !== 'string') {
      throw new InputError(modulesFile, `module ${i}`, undefined, 'expected { idx, name, path, type } with string path and type');
    }
    return { kind: kindOf(m.type), type: m.type, path: m.path, record: `module ${i}` };
  });
  const order = kinds.map((k) => k.kind).join(',');
  if (order !== 'Transformer,Pooling' && order !== 'Transformer,Pooling,Normalize') {
    const odd = kinds.find((k) => !['Transformer', 'Pooling', 'Normalize'].includes(k.kind));
    if (odd) throw new InputError(modulesFile, odd.record, 'type', `${odd.type} is not a module dprep can run (it runs Transformer, Pooling and Normalize)`);
    throw new InputError(modulesFile, undefined, undefined, `modules are ${order}; dprep embeds with Transformer, Pooling[, Normalize] in that order`);
  }
  const pooling = await readPooling(join(dir, kinds[1].path, 'config.json'), supported);
  const { prompts, defaultPrompt, similarity } = await readModelConfig(join(dir, 'config_sentence_transformers.json'));
  const prompt = (names: string[]) => names.map((n) => prompts[n]).find((p) => p !== undefined) ?? (defaultPrompt ? prompts[defaultPrompt] : '') ?? '';
  const queryPrefix = prompt(['query']);
  const passagePrefix = prompt(PASSAGE_PROMPTS);
  if (!pooling.includePrompt && (queryPrefix || passagePrefix)) {
    throw new InputError(join(dir, kinds[1].path, 'config.json'), undefined, 'include_prompt', 'is false: the prompt tokens are left out of pooling, which dprep does not do');
  }
  const modelDir = join(dir, kinds[0].path);
  const { maxLength, lowercase } = await readTransformerConfig(modelDir);
  return { modelDir, pooling: pooling.mode, normalize: kinds.length === 3, queryPrefix, passagePrefix, maxLength, lowercase, ...(similarity ? { similarity } : {}) };
}

async function readPooling(file: string, supported: readonly StPooling[]): Promise<{ mode: StPooling; includePrompt: boolean }> {
  const cfg = await readJson(file);
  if (!isObject(cfg)) throw new InputError(file, undefined, undefined, 'expected a JSON object');
  let modes: StPooling[];
  if (typeof cfg.pooling_mode === 'string') modes = [cfg.pooling_mode as StPooling];
  else modes = POOLING_KEYS.filter(([key]) => cfg[key] === true).map(([, mode]) => mode);
  if (modes.length !== 1) {
    throw new InputError(file, undefined, undefined, modes.length === 0 ? 'no pooling_mode_* is true' : `pooling modes ${modes.join('+')} are concatenated; dprep pools one way`);
  }
  if (!supported.includes(modes[0])) {
    const key = POOLING_KEYS.find(([, m]) => m === modes[0])?.[0] ?? 'pooling_mode';
    throw new InputError(file, undefined, key, `${modes[0]} pooling is not one dprep computes (it does ${supported.join(', ')})`);
  }
  return { mode: modes[0], includePrompt: cfg.include_prompt !== false };
}

async function readModelConfig(file: string): Promise<{ prompts: Record<string, string>; defaultPrompt?: string; similarity?: string }> {
  if (!existsSync(file)) return { prompts: {} };
  const cfg = await readJson(file);
  if (!isObject(cfg)) throw new InputError(file, undefined, undefined, 'expected a JSON object');
  const prompts: Record<string, string> = {};
  if (cfg.prompts !== undefined && cfg.prompts !== null) {
    if (!isObject(cfg.prompts)) throw new InputError(file, undefined, 'prompts', 'expected an object of prompt name → text');
    for (const [name, text] of Object.entries(cfg.prompts)) {
      if (typeof text !== 'string') throw new InputError(file, undefined, `prompts.${name}`, `expected a string, got ${JSON.stringify(text)}`);
      prompts[name] = text;
    }
  }
  const def = cfg.default_prompt_name;
  if (def !== undefined && def !== null && (typeof def !== 'string' || !(def in prompts))) {
    throw new InputError(file, undefined, 'default_prompt_name', `${JSON.stringify(def)} is not one of the prompts (${Object.keys(prompts).join(', ') || 'none'})`);
  }
  const similarity = typeof cfg.similarity_fn_name === 'string' ? cfg.similarity_fn_name : undefined;
  return { prompts, ...(typeof def === 'string' ? { defaultPrompt: def } : {}), ...(similarity ? { similarity } : {}) };
}

async function readTransformerConfig(modelDir: string): Promise<{ maxLength?: number; lowercase: boolean }> {
  const name = LEGACY_CONFIGS.find((n) => existsSync(join(modelDir, n)));
  if (!name) return { lowercase: false };
  const file = join(modelDir, name);
  const cfg = await readJson(file);
  if (!isObject(cfg)) throw new InputError(file, undefined, undefined, 'expected a JSON object');
  const max = cfg.max_seq_length;
  if (max !== undefined && max !== null && !(Number.isInteger(max) && (max as number) > 0)) {
    throw new InputError(file, undefined, 'max_seq_length', `expected a positive integer, got ${JSON.stringify(max)}`);
  }
  return { ...(typeof max === 'number' ? { maxLength: max } : {}), lowercase: cfg.do_lower_case === true };
}

/** What an export writes: the model's pooling and prompts, and its hidden size. */
export interface StExport {
  pooling: StPooling;
  normalize: boolean;
  /** Hidden size of the encoder (Pooling's `word_embedding_dimension`). */
  dimension: number;
  maxLength: number;
  queryPrefix?: string;
  passagePrefix?: string;
}

/**
 * Writes the sentence-transformers files next to an HF model already in `dir` (config.json,
 * weights, tokenizer at its root: the Transformer module's path is ""). Plain writes: the
 * export builds the whole dir in a temp dir and swaps it in with `replaceDir`.
 * Pooling writes the 2.x keys, plus the one newer key its mode needs, so 2.2 and 3.x both load it.
 * @example await writeSentenceTransformersFiles(tmp, { pooling: 'mean', normalize: true, dimension: 384, maxLength: 512, queryPrefix: 'query: ' });
 */
export async function writeSentenceTransformersFiles(dir: string, st: StExport): Promise<void> {
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    ...(st.normalize ? [{ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
  ];
  const pooling: Record<string, number | boolean> = { word_embedding_dimension: st.dimension };
  for (const [key, mode] of POOLING_KEYS) {
    const newer = key === 'pooling_mode_weightedmean_tokens' || key === 'pooling_mode_lasttoken';
    if (!newer || st.pooling === mode) pooling[key] = st.pooling === mode;
  }
  const prompts: Record<string, string> = {};
  if (st.queryPrefix) prompts.query = st.queryPrefix;
  if (st.passagePrefix) prompts.passage = st.passagePrefix;
  await mkdir(join(dir, '1_Pooling'), { recursive: true });
  if (st.normalize) await mkdir(join(dir, '2_Normalize'), { recursive: true });
  await writeFile(join(dir, 'modules.json'), json(modules));
  await writeFile(join(dir, '1_Pooling', 'config.json'), json(pooling));
  await writeFile(join(dir, 'sentence_bert_config.json'), json({ max_seq_length: st.maxLength, do_lower_case: false }));
  await writeFile(
    join(dir, 'config_sentence_transformers.json'),
    json({ prompts, default_prompt_name: null, similarity_fn_name: st.normalize ? 'cosine' : 'dot' }),
  );
}
