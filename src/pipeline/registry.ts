/**
 * The commands a pipeline's steps may use, handed in by the layer above (the CLI's command list,
 * or a test's few commands): the pipeline modules never import the command modules, so the planner and runner
 * know a command only by its spec.
 *
 * @example
 * const plan = planPipeline(spec, { commands: commandRegistry([debugWriteCommand, matchCommand]) });
 */
import type { CommandSpec } from '../options.ts';

export interface CommandRegistry {
  /** The command with this dotted id (`convert.squad`), or undefined. */
  get(id: string): CommandSpec<any> | undefined;
  /** Every id, in registry order (for "allowed: ..." messages). */
  ids(): readonly string[];
}

/** A registry over a list of specs; the first spec wins when two share an id. */
export function commandRegistry(commands: readonly CommandSpec<any>[]): CommandRegistry {
  const byId = new Map<string, CommandSpec<any>>();
  for (const c of commands) if (!byId.has(c.id)) byId.set(c.id, c);
  return { get: (id) => byId.get(id), ids: () => [...byId.keys()] };
}

/** Takes a registry as it is, or wraps a plain list of specs. */
export function asRegistry(commands: CommandRegistry | readonly CommandSpec<any>[]): CommandRegistry {
  return Array.isArray(commands) ? commandRegistry(commands) : (commands as CommandRegistry);
}
