/**
 * The commands a pipeline step may use: every command but the pipeline drivers. Its own module
 * so the drivers (run, status, dag, validate) can plan over it without importing index.ts,
 * which imports them.
 */
import type { CommandSpec } from '../options.ts';
import { matchCommand } from './match.ts';
import { initModelCommand } from './init-model.ts';
import { trainCommand } from './train.ts';
import { embedCommand } from './embed.ts';
import { encodeCommand } from './encode.ts';
import { mineDenseCommand } from './mine-dense.ts';
import { mineRescoreCommand } from './mine-rescore.ts';
import { evalCommand } from './eval.ts';
import { evalReportCommand } from './eval-report.ts';
import { debugCommands } from './debug.ts';
import { convertSquadCommand } from './convert-squad.ts';
import { convertPiafCommand } from './convert-piaf.ts';
import { convertMsmarcoCommand } from './convert-msmarco.ts';
import { convertNqCommand } from './convert-nq.ts';
import { indexBm25Command } from './index-bm25.ts';
import { mineBm25Command } from './mine-bm25.ts';
import { minePositivesCommand } from './mine-positives.ts';
import { searchBm25Command } from './search-bm25.ts';
import { exportCommand } from './export.ts';
import { splitCommand } from './split.ts';

export const stepCommands: CommandSpec<any>[] = [
  // answers
  matchCommand,
  // converters
  convertSquadCommand,
  convertPiafCommand,
  convertMsmarcoCommand,
  convertNqCommand,
  splitCommand,
  // BM25
  indexBm25Command,
  mineBm25Command,
  minePositivesCommand,
  searchBm25Command,
  // trainer
  initModelCommand,
  trainCommand,
  embedCommand,
  exportCommand,
  // dense retrieval
  encodeCommand,
  mineDenseCommand,
  mineRescoreCommand,
  evalCommand,
  evalReportCommand,
  // Test-only commands, for pipeline kill/resume tests that spawn the real CLI.
  ...(process.env.DPREP_TEST_COMMANDS === '1' ? debugCommands : []),
];
