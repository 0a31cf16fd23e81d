/**
 * The resumable state of a training run, kept in `last/` with the encoders: `trainer_state.json`
 * (where the loop stands, best and last dev scores, the options fingerprint, and the sha256 of
 * every other file of the checkpoint) and `optimizer.safetensors` (AdamW's moments). A resumed run
 * continues exactly where the saved one stood, so it equals an uninterrupted run; a damaged
 * checkpoint (a file changed since it was saved, a garbled state, non-finite moments) is refused
 * naming the file, never trained on.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { changedFiles, sha256Dir } from '../io/content-hash.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { fingerprintChanges } from './options.ts';
import { readSafetensors, type NamedTensor } from './safetensors.ts';
import { nonFiniteTensors } from './weights.ts';

export interface TrainerState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  epochLossSum: number;
  epochLossCount: number;
  lastEpochLoss: number | null;
  best: { avgRank: number; nll: number; step: number } | null;
  lastDev: { avgRank: number; nll: number } | null;
  fingerprint: string;
}

/** The checkpoint's files hashed into trainer_state.json: the encoders' dirs and the optimizer state. */
export const CHECKPOINT_SUBDIRS = ['query_encoder', 'passage_encoder'] as const;

/** trainer_state.json as saved: the state plus the sha256 of every other file of last/. */
export type SavedTrainerState = TrainerState & { files?: Record<string, string> };

/** How to get out of a damaged checkpoint, for messages. */
function recoverHint(runDir: string): string {
  const best = existsSync(join(runDir, 'best')) ? `; ${join(runDir, 'best')} holds the best checkpoint so far (start a new run from its encoders with --query-model/--passage-model)` : '';
  return `the checkpoint is damaged: train again without --resume (into a new --out, or over this one)${best}`;
}

/** The sha256 of every file of checkpoint dir `last` but trainer_state.json, as saveCheckpoint records them. */
export async function checkpointFiles(last: string): Promise<Record<string, string>> {
  const { files } = await sha256Dir(last, CHECKPOINT_SUBDIRS.filter((d) => existsSync(join(last, d))));
  delete files['trainer_state.json'];
  return files;
}

const NUMBER_FIELDS = ['step', 'epoch', 'batchInEpoch', 'epochLossSum', 'epochLossCount'] as const;

/** Throws naming the first field of a parsed trainer_state.json that is missing or of the wrong type. */
function checkStateFields(file: string, state: unknown, hint: string): asserts state is SavedTrainerState {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) throw new InputError(file, undefined, undefined, `expected a JSON object: ${hint}`);
  const s = state as Record<string, unknown>;
  for (const key of NUMBER_FIELDS) {
    if (typeof s[key] !== 'number' || !Number.isFinite(s[key]) || s[key] < 0) throw new InputError(file, undefined, key, `expected a number >= 0, got ${JSON.stringify(s[key])}: ${hint}`);
  }
  for (const key of ['step', 'epoch', 'batchInEpoch', 'epochLossCount'] as const) {
    if (!Number.isInteger(s[key])) throw new InputError(file, undefined, key, `expected an integer, got ${s[key]}: ${hint}`);
  }
  if (typeof s.fingerprint !== 'string') throw new InputError(file, undefined, 'fingerprint', `expected a string: ${hint}`);
  if (s.files !== undefined && (typeof s.files !== 'object' || s.files === null)) throw new InputError(file, undefined, 'files', `expected an object of sha256 digests: ${hint}`);
}

/** The state of a run that starts at its first batch. */
export function freshState(fingerprint: string): TrainerState {
  return { step: 0, epoch: 0, batchInEpoch: 0, epochLossSum: 0, epochLossCount: 0, lastEpochLoss: null, best: null, lastDev: null, fingerprint };
}

/**
 * Reads the saved state of run `runDir` (its `last/`), refusing one started with other fixed
 * options (naming them), and a damaged one: a garbled trainer_state.json, a file of last/ whose
 * sha256 is not the one saved with it, optimizer moments that are not finite. Returns the state
 * with the optimizer's saved moments.
 * @example const { state, optimizer } = await readResumeState('runs/s1', trainFingerprint({ ...o, workers }));
 */
export async function readResumeState(runDir: string, fingerprint: string): Promise<{ state: TrainerState; optimizer: Map<string, NamedTensor> }> {
  const last = join(runDir, 'last');
  const file = join(last, 'trainer_state.json');
  if (!existsSync(file)) throw new UsageError(`--resume ${runDir}: no last/trainer_state.json there (nothing to resume)`);
  const hint = recoverHint(runDir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, undefined, undefined, `invalid JSON (${(err as Error).message}): ${hint}`);
  }
  checkStateFields(file, parsed, hint);
  const { files: saved, ...state } = parsed;
  if (state.fingerprint !== fingerprint) {
    const changed = fingerprintChanges(state.fingerprint, fingerprint);
    throw new UsageError(`--resume ${runDir}: the run was started with different training options${changed.length ? ` (${changed.join(', ')})` : ''}; resume with the same ones`);
  }
  // Checkpoints saved before dprep recorded their hashes have no `files`: only their own checks below apply.
  if (saved) {
    const changed = changedFiles(saved, await checkpointFiles(last));
    if (changed.length) {
      const what = changed.map((n) => (n in saved ? n : `${n} (not saved with the checkpoint)`)).join(', ');
      throw new InputError(join(last, changed[0]), undefined, undefined, `differs from the sha256 recorded in last/trainer_state.json (changed: ${what}): ${hint}`);
    }
  }
  const optimizerFile = join(last, 'optimizer.safetensors');
  let tensors: Map<string, NamedTensor>;
  try {
    ({ tensors } = await readSafetensors(optimizerFile));
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.file, err.record, err.field, `${err.problem}: ${hint}`);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(optimizerFile, undefined, undefined, `missing: ${hint}`);
    throw err;
  }
  const bad = nonFiniteTensors(tensors);
  if (bad.length) throw new InputError(optimizerFile, `tensor "${bad[0].name}"`, undefined, `holds non-finite optimizer moments (${bad[0].what}): ${hint}`);
  return { state, optimizer: tensors };
}

/**
 * Keeps the metric lines up to `step`: a killed run may have logged past its last save. A last
 * line cut short (no newline at its end: killed while appending it) is dropped, being past the
 * save; any other bad line is an error naming it.
 */
export async function trimMetrics(file: string, step: number): Promise<void> {
  if (!existsSync(file)) return;
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const cut = lines.pop() ?? ''; // '' when the file ends with a newline
  const kept: string[] = [];
  const parse = (line: string, lineNo: number) => {
    try {
      return JSON.parse(line) as { step?: unknown };
    } catch (err) {
      throw new InputError(file, `line ${lineNo}`, undefined, `invalid JSON (${(err as Error).message}); metrics.jsonl is only the training log: remove or fix that line and resume again`);
    }
  };
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const row = parse(line, i + 1);
    if (typeof row?.step !== 'number') throw new InputError(file, `line ${i + 1}`, 'step', `expected a number; metrics.jsonl is only the training log: remove or fix that line and resume again`);
    if (row.step <= step) kept.push(line + '\n');
  });
  if (cut.trim() !== '') {
    let complete: { step?: unknown } | undefined;
    try {
      complete = JSON.parse(cut) as { step?: unknown };
    } catch {
      complete = undefined; // cut short by a kill: past the save
    }
    if (complete && typeof complete.step === 'number' && complete.step <= step) kept.push(cut + '\n');
  }
  await writeFileAtomic(file, kept.join(''));
}
