/**
 * The step graph of a plan, as text (for terminals) and as a Mermaid flowchart (for docs and
 * PR descriptions). Edges carry which output feeds which input.
 */
import { relative } from 'node:path';
import type { Plan } from './plan.ts';

/**
 * One block per step in run order: its command, what it reads and what it writes.
 * @example console.log(dagText(plan));
 */
export function dagText(plan: Plan): string {
  const lines = [`pipeline ${plan.spec.name}: ${plan.steps.length} steps, seed ${plan.spec.seed}, workdir ${relative(process.cwd(), plan.workdir) || '.'}`];
  for (const step of plan.steps) {
    lines.push('', `${step.name}  (${step.uses})${step.deps.length ? `  after ${step.deps.join(', ')}` : ''}`);
    for (const input of step.inputs) {
      const from = input.paths.map((p) => (p.fromStep ? `${p.fromStep}.${p.fromOutput}` : relative(plan.spec.dir, p.abs) || '.'));
      lines.push(`  in   ${input.key}: ${from.join(', ')}`);
    }
    for (const output of step.outputs) lines.push(`  out  ${output.key}: ${output.rel}`);
  }
  return lines.join('\n');
}

/**
 * A Mermaid `flowchart TD`: a node per step, an edge per output→input link, labelled `out → in`.
 * @example dagMermaid(plan) // 'flowchart TD\n  s_convert["convert<br/>convert.squad"]\n  …\n  s_convert -->|out → records| s_bm25'
 */
export function dagMermaid(plan: Plan): string {
  const esc = (s: string) => s.replace(/"/g, '#quot;').replace(/\|/g, '#124;');
  // Node ids get a prefix: a step named "end" or "graph" would otherwise be a Mermaid keyword.
  const id = (name: string) => `s_${name}`;
  const lines = ['flowchart TD'];
  for (const step of plan.steps) lines.push(`  ${id(step.name)}["${esc(step.name)}<br/>${esc(step.uses)}"]`);
  for (const step of plan.steps) {
    for (const input of step.inputs) {
      for (const p of input.paths) if (p.fromStep) lines.push(`  ${id(p.fromStep)} -->|${esc(`${p.fromOutput} → ${input.key}`)}| ${id(step.name)}`);
    }
  }
  return lines.join('\n');
}
