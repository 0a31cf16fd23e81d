/**
 * dprep's library surface. Everything a user may import is exported here, deliberately;
 * modules not re-exported are internal.
 */
export type { Passage, Ctx, DprRecord, MatchMode, Encoder, EncodeInput } from './types.ts';
export { hasAnswer, AnswerMatcher, dprTokens } from './text/answer.ts';
export { InputError, UsageError } from './util/errors.ts';
export { Summary } from './util/summary.ts';
export { defineCommand, resolveOptions, type CommandSpec, type OptionsSpec, type RunContext } from './options.ts';
export { commands, findCommand } from './commands/index.ts';
export { loadEncoder } from './trainer/encoder.ts';
export { trainBiEncoder, type TrainOptions, type TrainResult } from './trainer/train.ts';
export { DPREP_VERSION } from './version.ts';
