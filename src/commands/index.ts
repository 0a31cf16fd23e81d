/** Every command dprep has, as the CLI lists them: the pipeline drivers, then the commands a step may use. */
import type { CommandSpec } from '../options.ts';
import { commandRegistry as registryOf, type CommandRegistry } from '../pipeline/registry.ts';
import { runCommand } from './run.ts';
import { dagCommand } from './dag.ts';
import { statusCommand } from './status.ts';
import { validateCommand } from './validate.ts';
import { stepCommands } from './_step-commands.ts';

export const commands: CommandSpec<any>[] = [
  // pipelines
  runCommand,
  statusCommand,
  dagCommand,
  validateCommand,
  ...stepCommands,
];

/** The same list as the registry the pipeline planner takes (`planPipeline(spec, { commands: commandRegistry })`). */
export const commandRegistry: CommandRegistry = registryOf(commands);

export function findCommand(id: string): CommandSpec<any> | undefined {
  return commandRegistry.get(id);
}
