/** Every command dprep has. The CLI and the pipeline runner both read this list. */
import type { CommandSpec } from '../options.ts';
import { matchCommand } from './match.ts';
import { encodeCommand } from './encode.ts';
import { mineDenseCommand } from './mine-dense.ts';
import { evalCommand } from './eval.ts';
import { evalReportCommand } from './eval-report.ts';

export const commands: CommandSpec<any>[] = [
  matchCommand,
  encodeCommand,
  mineDenseCommand,
  evalCommand,
  evalReportCommand,
];

export function findCommand(id: string): CommandSpec<any> | undefined {
  return commands.find((c) => c.id === id);
}
