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
export { DPREP_VERSION } from './version.ts';
export { createAnalyzer, type Analyzer, type AnalyzerConfig, type AnalyzerLang } from './text/analyzer.ts';
export { buildBm25Index, type BuildOptions as Bm25BuildOptions } from './search/bm25/builder.ts';
export { Bm25Index, type Bm25Hit } from './search/bm25/index.ts';
export type { Bm25Header, Bm25Params } from './search/bm25/format.ts';
export { createWinkReference } from './search/bm25/wink.ts';
export { mineBm25, type MineBm25Options, type MiningReport } from './miners/bm25.ts';
