/** Every command dprep has. The CLI and the pipeline runner both read this list. */
import type { CommandSpec } from '../options.ts';
import { matchCommand } from './match.ts';
import { convertSquadCommand } from './convert-squad.ts';
import { convertPiafCommand } from './convert-piaf.ts';
import { convertMsmarcoCommand } from './convert-msmarco.ts';

export const commands: CommandSpec<any>[] = [
  matchCommand,
  convertSquadCommand,
  convertPiafCommand,
  convertMsmarcoCommand,
];

export function findCommand(id: string): CommandSpec<any> | undefined {
  return commands.find((c) => c.id === id);
}
