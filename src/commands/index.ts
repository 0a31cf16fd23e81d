/** Every command dprep has. The CLI and the pipeline runner both read this list. */
import type { CommandSpec } from '../options.ts';
import { matchCommand } from './match.ts';
import { indexBm25Command } from './index-bm25.ts';
import { mineBm25Command } from './mine-bm25.ts';
import { searchBm25Command } from './search-bm25.ts';

export const commands: CommandSpec<any>[] = [
  matchCommand,
  indexBm25Command,
  mineBm25Command,
  searchBm25Command,
];

export function findCommand(id: string): CommandSpec<any> | undefined {
  return commands.find((c) => c.id === id);
}
