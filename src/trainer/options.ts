/**
 * The options of `dprep train`, declared once beside the trainer (as Tevatron keeps `arguments.py`
 * beside its trainer). The same declaration parses CLI flags and pipeline YAML, renders the docs,
 * types the library's `TrainOptions`, checks library calls, and makes the resume fingerprint.
 *
 * `onResume` says whether `--resume` may change an option: `fixed` ones change the computation
 * (data, batch, schedule, model shape, seeds) and make up the run's fingerprint; `free` ones only
 * say where things are, how far to go or how to run (paths, --max-steps, backend, memory budget).
 */
import { kebab, resolveOptions, seedOption, type OptionSpec, type OptionsSpec, type OptionValues } from '../options.ts';
import { POOLINGS } from './bert.ts';
import { BACKENDS } from './tf-types.ts';
import { TEMPLATE_OPTIONS } from './template.ts';
import { BATCH_SAMPLERS } from './data.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';

/** A train option; `onResume` is required so that a new option cannot forget to say. */
export interface TrainOptionSpec extends OptionSpec {
  onResume: 'fixed' | 'free';
}

// The order of the fixed options is the order of the fingerprint's JSON keys: keep it, so runs
// started before a reordering still resume.
export const TRAIN_OPTIONS = {
  train: { type: 'string', required: true, role: 'input', onResume: 'fixed', help: 'training DPR records (.json or .jsonl)' },
  dev: { type: 'string', role: 'input', onResume: 'fixed', help: 'dev DPR records for NLL / average rank and best-checkpoint choice' },
  queryModel: { type: 'string', required: true, role: 'input', onResume: 'free', help: 'HF model dir to start the query encoder from' },
  passageModel: { type: 'string', role: 'input', onResume: 'free', help: 'HF model dir for the passage encoder (default: --query-model)' },
  out: { type: 'string', required: true, role: 'output', onResume: 'free', help: 'run directory' },
  batchSize: { type: 'integer', default: 16, min: 1, onResume: 'fixed', help: 'questions per forward pass (micro-batch)' },
  gradAccum: { type: 'integer', default: 1, min: 1, onResume: 'fixed', help: 'micro-batches per optimizer step (equals one larger batch)' },
  hardNegatives: { type: 'integer', default: 1, min: 0, onResume: 'fixed', help: 'hard negatives per question (the first N of hard_negative_ctxs)' },
  positives: { type: 'string', choices: ['first', 'sampled'], default: 'first', onResume: 'fixed', help: 'which positive per question: the first, or one sampled per epoch (seeded)' },
  epochs: { type: 'integer', default: 40, min: 1, onResume: 'fixed', help: 'passes over the training records' },
  maxSteps: { type: 'integer', default: 0, min: 0, onResume: 'free', help: 'stop after N optimizer steps (0: no cap; the schedule still spans --epochs)' },
  lr: { type: 'number', default: 2e-5, min: 0, onResume: 'fixed', help: 'peak learning rate (AdamW)' },
  warmup: { type: 'integer', default: 0, min: 0, onResume: 'fixed', help: 'linear warmup steps, then linear decay to 0' },
  weightDecay: { type: 'number', default: 0, min: 0, onResume: 'fixed', help: 'AdamW weight decay (not on biases and LayerNorm)' },
  maxGradNorm: { type: 'number', default: 2, min: 0, onResume: 'fixed', help: 'clip gradients to this global L2 norm (0: off)' },
  maxQueryLen: { type: 'integer', default: 64, min: 2, onResume: 'fixed', help: 'query tokens, specials included' },
  maxPassageLen: { type: 'integer', default: 256, min: 2, onResume: 'fixed', help: 'passage tokens, specials included' },
  embedTitle: { type: 'boolean', onResume: 'fixed', help: 'encode passages as [CLS] title [SEP] text [SEP]' },
  sharedEncoder: { type: 'boolean', onResume: 'fixed', help: 'one encoder for questions and passages' },
  pooling: { type: 'string', choices: POOLINGS, default: 'cls', onResume: 'fixed', help: 'CLS vector (DPR) or mean of tokens' },
  normalize: { type: 'boolean', onResume: 'fixed', help: 'L2-normalize vectors before the dot product' },
  backend: { type: 'string', choices: BACKENDS, default: 'auto', onResume: 'free', help: 'tfjs backend (auto: tfjs-node if installed, else wasm, else cpu)' },
  // Fixed: the replica count sets the gradient's summation order. The fingerprint holds the
  // resolved count (0 becomes 1 or 2), so the default resumes only on a backend that resolves alike.
  workers: { type: 'integer', default: 0, min: 0, onResume: 'fixed', help: 'data-parallel replicas, one worker thread each (0: 2 on wasm/cpu, 1 on tfjs-node); part of the result: resume with the same count' },
  seed: { ...seedOption(12345, 'shuffling, positive sampling and dropout'), onResume: 'fixed' },
  resume: { type: 'string', onResume: 'free', help: 'run directory to continue from (its last/ checkpoint)' },
  evalEvery: { type: 'integer', default: 0, min: 0, onResume: 'fixed', help: 'validate and save every N steps (0: at each epoch end)' },
  devMaxQuestions: { type: 'integer', default: 1000, min: 1, onResume: 'fixed', help: 'dev questions used for validation' },
  maxMemoryGb: { type: 'number', onResume: 'free', help: 'memory budget for the pre-flight estimate (default: 3.8 on wasm, else 80% of RAM)' },
  // Input templates, stored with the encoders: fixed, they change what the model sees. Last, so
  // that fingerprints of runs started before them (unset keys are left out) still match.
  queryTemplate: { ...TEMPLATE_OPTIONS.queryTemplate, onResume: 'fixed' },
  passageTemplate: { ...TEMPLATE_OPTIONS.passageTemplate, onResume: 'fixed' },
  // In-batch false negatives (data.ts). Last in the fingerprint: runs saved before them do not resume.
  maskFalseNegatives: { type: 'boolean', default: true, onResume: 'fixed', help: "leave out of question i's softmax every other passage of the batch that is one of its positives (same passage_id or normalized text); --no-mask-false-negatives for the unmasked DPR loss" },
  batchSampler: { type: 'string', choices: BATCH_SAMPLERS, default: 'shuffle', onResume: 'fixed', help: 'shuffle: seeded shuffle; no-duplicates: build batches in which no passage is a positive of another question (greedy; every record still once per epoch, leftovers masked)' },
  // Fixed: it decides which records train. Left out of the fingerprint while off, so runs saved before it still resume.
  skipBad: { ...SKIP_BAD_OPTION.skipBad, onResume: 'fixed' },
} as const satisfies Record<string, TrainOptionSpec>;

/**
 * Options of `trainBiEncoder`: the declaration's values, plus what the CLI leaves to its caller:
 * the seed is always given (declared with seedOption: --seed, else the pipeline's step seed, else 12345) and
 * progress goes to `log`.
 * @example const o: TrainOptions = { ...defaults, train: 'train.json', queryModel: 'tiny-bert', out: 'runs/s1', seed: 1 };
 */
export type TrainOptions = Omit<OptionValues<typeof TRAIN_OPTIONS>, 'seed'> & {
  seed: number;
  log?: (message: string) => void;
};

type TrainOptionKey = keyof typeof TRAIN_OPTIONS;

/** The options `--resume` must not change, in declaration order. */
export const RESUME_FIXED: readonly TrainOptionKey[] = (Object.keys(TRAIN_OPTIONS) as TrainOptionKey[]).filter((k) => TRAIN_OPTIONS[k].onResume === 'fixed');

/**
 * The run's identity, stored in `trainer_state.json`: the JSON of the fixed options (unset ones
 * left out), `workers` as resolved.
 * @example trainFingerprint({ ...o, workers: 2 }) // '{"train":"train.jsonl","batchSize":16,...}'
 */
export function trainFingerprint(o: TrainOptions): string {
  return JSON.stringify(Object.fromEntries(RESUME_FIXED.filter((k) => k !== 'skipBad' || o.skipBad).map((k) => [k, o[k]])));
}

/**
 * The fixed options whose values differ between two fingerprints, as `--lr 0.002 (now 1)`;
 * an unreadable saved fingerprint gives `[]` (the caller still refuses).
 */
export function fingerprintChanges(saved: string, now: string): string[] {
  let before: Record<string, unknown>;
  try {
    before = JSON.parse(saved) as Record<string, unknown>;
  } catch {
    return [];
  }
  const after = JSON.parse(now) as Record<string, unknown>;
  const shown = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  return RESUME_FIXED.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).map((k) => `--${kebab(k)} ${shown(before[k])} (now ${shown(after[k])})`);
}

/**
 * Checks a library call against the declaration (types, choices, ranges), as the CLI and the
 * pipeline check theirs; a value out of range is a UsageError naming the option.
 */
export function checkTrainOptions(o: TrainOptions): void {
  const given = Object.fromEntries((Object.keys(TRAIN_OPTIONS) as TrainOptionKey[]).filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  resolveOptions(TRAIN_OPTIONS, given, 'train');
}

/**
 * How a reader of an encoder (encode, eval, mine dense, embed) embeds, when the user overrides
 * it; unset, each follows the encoder dir (dprep_encoder.json, then a sentence-transformers
 * dir's pooling / Normalize module, then cls / off). A boolean cannot be told unset from false, so
 * --normalize can only switch normalization on.
 */
export const EMBED_OVERRIDE_OPTIONS = {
  pooling: { type: 'string', choices: POOLINGS, help: 'pooling (default: as the encoder dir says: dprep_encoder.json or sentence-transformers 1_Pooling, else cls)' },
  normalize: { type: 'boolean', help: 'L2-normalize the vectors (default: as the encoder dir says: dprep_encoder.json or a Normalize module, else off)' },
} as const satisfies OptionsSpec;
