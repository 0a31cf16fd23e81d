/**
 * The resumable state of a training run, kept in `last/` with the encoders: `trainer_state.json`
 * (where the loop stands, best and last dev scores, the options fingerprint) and
 * `optimizer.safetensors` (AdamW's moments). A resumed run continues exactly where the saved one
 * stood, so it equals an uninterrupted run.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { parseJsonLine, readLines } from '../io/lines.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { fingerprintChanges } from './options.ts';
import { readSafetensors, type NamedTensor } from './safetensors.ts';

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

/** The state of a run that starts at its first batch. */
export function freshState(fingerprint: string): TrainerState {
  return { step: 0, epoch: 0, batchInEpoch: 0, epochLossSum: 0, epochLossCount: 0, lastEpochLoss: null, best: null, lastDev: null, fingerprint };
}

/**
 * Reads the saved state of run `runDir` (its `last/`), refusing one started with other fixed
 * options (naming them); returns it with the optimizer's saved moments.
 * @example const { state, optimizer } = await readResumeState('runs/s1', trainFingerprint({ ...o, workers }));
 */
export async function readResumeState(runDir: string, fingerprint: string): Promise<{ state: TrainerState; optimizer: Map<string, NamedTensor> }> {
  const file = join(runDir, 'last', 'trainer_state.json');
  if (!existsSync(file)) throw new UsageError(`--resume ${runDir}: no last/trainer_state.json there (nothing to resume)`);
  let state: TrainerState;
  try {
    state = JSON.parse(await readFile(file, 'utf8')) as TrainerState;
  } catch (err) {
    throw new InputError(file, undefined, undefined, `invalid JSON (${(err as Error).message})`);
  }
  if (state.fingerprint !== fingerprint) {
    const changed = fingerprintChanges(state.fingerprint, fingerprint);
    throw new UsageError(`--resume ${runDir}: the run was started with different training options${changed.length ? ` (${changed.join(', ')})` : ''}; resume with the same ones`);
  }
  const { tensors } = await readSafetensors(join(runDir, 'last', 'optimizer.safetensors'));
  return { state, optimizer: tensors };
}

/** Keeps the metric lines up to `step`: a killed run may have logged past its last save. */
export async function trimMetrics(file: string, step: number): Promise<void> {
  if (!existsSync(file)) return;
  const kept: string[] = [];
  for await (const { lineNo, text } of readLines(file)) {
    if (text && (parseJsonLine(text, file, lineNo) as { step: number }).step <= step) kept.push(text + '\n');
  }
  await writeFileAtomic(file, kept.join(''));
}
