/**
 * Weights of a Hugging Face model directory, whatever the file format, and the checks a loader
 * runs on them: `model.safetensors`, else `pytorch_model.bin`, else the sharded layouts
 * (`model.safetensors.index.json` / `pytorch_model.bin.index.json`, whose `weight_map` maps each
 * tensor name to its shard file). Every format comes back as the same `NamedTensor` map.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../util/errors.ts';
import { readSafetensors, type NamedTensor } from './safetensors.ts';
import { readTorchBin } from './torch-bin.ts';

export const WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json', 'pytorch_model.bin.index.json'] as const;

export interface Weights {
  /** Float tensors, upcast to float32, by their names in the file. */
  tensors: Map<string, NamedTensor>;
  /** Non-float tensors (e.g. an int64 `position_ids` buffer), not loaded. */
  skipped: string[];
  /** The file read (for shards: the index file), for error messages. */
  source: string;
  /** Every file read: the single weights file, or the index and its shards. */
  files: string[];
}

/** Reads one weights file by its extension. */
async function readWeightFile(file: string): Promise<{ tensors: Map<string, NamedTensor>; skipped: string[] }> {
  if (file.endsWith('.safetensors')) {
    const { tensors, skipped } = await readSafetensors(file);
    return { tensors, skipped };
  }
  return readTorchBin(file);
}

/**
 * Reads the weights of model directory `dir`: the first of `WEIGHT_FILES` that exists.
 * `requireFinite` refuses a tensor holding NaN or ±Inf, naming it.
 * @example const { tensors, skipped, source } = await readWeights('models/bert-base-uncased');
 */
export async function readWeights(dir: string, opts: { requireFinite?: boolean } = {}): Promise<Weights> {
  const name = WEIGHT_FILES.find((f) => existsSync(join(dir, f)));
  if (name === undefined) throw new InputError(dir, undefined, undefined, `no model weights: looked for ${WEIGHT_FILES.join(', ')}`);
  const source = join(dir, name);
  let weights: Weights;
  if (!name.endsWith('.index.json')) weights = { ...(await readWeightFile(source)), source, files: [source] };
  else weights = await readSharded(dir, source);
  if (opts.requireFinite) {
    const bad = nonFiniteTensors(weights.tensors);
    if (bad.length) throw new InputError(source, `tensor "${bad[0].name}"`, undefined, `holds non-finite values (${bad[0].what}); ${bad.length} tensor(s) in all: ${bad.map((b) => b.name).join(', ')}`);
  }
  return weights;
}

/** A sharded checkpoint: every shard the index names, each tensor where the index says it is. */
async function readSharded(dir: string, index: string): Promise<Weights> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(index, 'utf8'));
  } catch (err) {
    throw new InputError(index, undefined, undefined, `invalid JSON (${(err as Error).message})`);
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new InputError(index, undefined, 'weight_map', 'expected an object mapping tensor names to shard files');
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map)) {
    // Shards live beside the index: a path elsewhere is refused, not followed.
    if (typeof shard !== 'string' || shard === '' || basename(shard) !== shard || shard === '..') {
      throw new InputError(index, `weight_map "${tensor}"`, undefined, `expected a shard file name in the same directory, got ${JSON.stringify(shard)}`);
    }
    byShard.set(shard, [...(byShard.get(shard) ?? []), tensor]);
  }
  const tensors = new Map<string, NamedTensor>();
  const skipped: string[] = [];
  const owner = new Map<string, string>();
  const files = [index];
  for (const [shard, names] of byShard) {
    const file = join(dir, shard);
    if (!existsSync(file)) throw new InputError(index, `weight_map "${names[0]}"`, undefined, `shard ${shard} not found in ${dir}`);
    const part = await readWeightFile(file);
    files.push(file);
    for (const name of [...part.tensors.keys(), ...part.skipped]) {
      if (owner.has(name)) throw new InputError(file, `tensor "${name}"`, undefined, `also in shard ${owner.get(name)}`);
      owner.set(name, shard);
    }
    for (const name of names) {
      if (!part.tensors.has(name) && !part.skipped.includes(name)) throw new InputError(file, `tensor "${name}"`, undefined, `missing, though ${basename(index)} puts it in this shard`);
    }
    for (const [k, v] of part.tensors) tensors.set(k, v);
    skipped.push(...part.skipped);
  }
  return { tensors, skipped, source: index, files };
}

/** Tensors holding NaN or ±Inf, with the first such value and its flat index. */
export function nonFiniteTensors(tensors: Map<string, NamedTensor>): { name: string; what: string }[] {
  const out: { name: string; what: string }[] = [];
  for (const [name, t] of tensors) {
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) out.push({ name, what: `${t.data[i]} at flat index ${i}` });
  }
  return out;
}

export interface CheckOptions {
  /** The file the tensors came from, for the error. */
  file: string;
  /**
   * Names neither required nor refused: a string matches whole dot-separated parts of a name
   * (`'pooler'` matches `pooler.dense.weight`, `'position_ids'` matches `embeddings.position_ids`),
   * a RegExp is tested against the whole name.
   */
  ignore?: (string | RegExp)[];
  /** Refuse expected tensors holding NaN or ±Inf (default true). */
  requireFinite?: boolean;
}

const LIST_CAP = 50;

function list(names: string[]): string {
  const shown = names.slice(0, LIST_CAP).join(', ');
  return names.length > LIST_CAP ? `${shown}, … and ${names.length - LIST_CAP} more` : shown;
}

/**
 * Checks `tensors` against the expected shapes and throws one InputError naming every missing,
 * unexpected, mis-shaped and (by default) non-finite tensor, e.g.
 * `missing: a, b; unexpected: c; shape of d: expected [2,3], got [3,2]`.
 * @example checkTensors(weights.tensors, bertTensorShapes(config), { file: weights.source, ignore: ['pooler', 'position_ids'] });
 */
export function checkTensors(tensors: Map<string, NamedTensor>, expected: Map<string, number[]>, opts: CheckOptions): void {
  const ignored = (name: string) =>
    (opts.ignore ?? []).some((p) => (typeof p === 'string' ? `.${name}.`.includes(`.${p}.`) : p.test(name)));
  const missing: string[] = [];
  const shapes: string[] = [];
  const present = new Map<string, NamedTensor>();
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) {
      if (!ignored(name)) missing.push(name);
      continue;
    }
    present.set(name, t);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) shapes.push(`shape of ${name}: expected [${shape}], got [${t.shape}]`);
  }
  const unexpected = [...tensors.keys()].filter((n) => !expected.has(n) && !ignored(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing: ${list(missing)}`);
  if (unexpected.length) problems.push(`unexpected: ${list(unexpected)}`);
  problems.push(...shapes);
  if (opts.requireFinite ?? true) for (const b of nonFiniteTensors(present)) problems.push(`non-finite values in ${b.name}: ${b.what}`);
  if (problems.length) throw new InputError(opts.file, undefined, undefined, problems.join('; '));
}
