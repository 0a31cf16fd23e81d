/** Every command dprep has. The CLI and the pipeline runner both read this list. */
import type { CommandSpec } from '../options.ts';
import { matchCommand } from './match.ts';
import { initModelCommand } from './init-model.ts';
import { trainCommand } from './train.ts';
import { embedCommand } from './embed.ts';

export const commands: CommandSpec<any>[] = [
  matchCommand,
  initModelCommand,
  trainCommand,
  embedCommand,
];

export function findCommand(id: string): CommandSpec<any> | undefined {
  return commands.find((c) => c.id === id);
}
