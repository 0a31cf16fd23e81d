/**
 * The step graph of a plan: dependency order with cycles reported, and the steps up- or
 * downstream of one (for `--from` / `--until`). Works on any step with a name and its deps.
 */
import type { Issues, Loc } from './schema.ts';

/** What the graph needs of a planned step. */
export interface GraphStep {
  name: string;
  /** Steps whose outputs this one reads. */
  deps: readonly string[];
  loc: Loc;
}

/** Kahn's algorithm, taking file order among ready steps; a cycle is reported as a path. */
export function topoOrder<S extends GraphStep>(steps: readonly S[], issues: Issues, fileOrder: readonly string[]): S[] {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: S[] = [];
  while (out.length < steps.length) {
    const next = fileOrder.map((n) => byName.get(n)).find((s) => s && !done.has(s.name) && s.deps.every((d) => done.has(d)));
    if (!next) break;
    done.add(next.name);
    out.push(next);
  }
  if (out.length < steps.length) {
    const left = steps.filter((s) => !done.has(s.name));
    const cycle = findCycle(left, byName);
    const first = byName.get(cycle[0])!;
    issues.add(first.loc, `steps form a cycle: ${cycle.join(' → ')}`);
  }
  return out;
}

function findCycle(left: readonly GraphStep[], byName: ReadonlyMap<string, GraphStep>): string[] {
  const path: string[] = [];
  const onPath = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    if (onPath.has(name)) return [...path.slice(path.indexOf(name)), name];
    if (seen.has(name)) return undefined;
    seen.add(name);
    onPath.add(name);
    path.push(name);
    for (const d of byName.get(name)?.deps ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    onPath.delete(name);
    return undefined;
  };
  for (const s of left) {
    const c = visit(s.name);
    // deps point upstream; show the cycle in data-flow order
    if (c) return c.reverse();
  }
  return left.map((s) => s.name);
}

/** Steps downstream of `name` (those that read its outputs, transitively), including itself. */
export function downstreamOf(plan: { steps: readonly GraphStep[] }, name: string): Set<string> {
  const out = new Set([name]);
  for (const s of plan.steps) if (s.deps.some((d) => out.has(d))) out.add(s.name);
  return out;
}

/** Steps `name` needs (transitively), including itself. */
export function upstreamOf(plan: { steps: readonly GraphStep[] }, name: string): Set<string> {
  const out = new Set([name]);
  for (const s of [...plan.steps].reverse()) if (out.has(s.name)) s.deps.forEach((d) => out.add(d));
  return out;
}
