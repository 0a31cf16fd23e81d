/**
 * The pipeline file: YAML read with node positions, so every error names file, line and key.
 * This module checks only the pipeline's own structure (name, seed, params, steps, uses);
 * a step's options are checked against its command's declaration in plan.ts.
 *
 * ```yaml
 * name: squad-two-stage
 * seed: 13
 * root: ..                      # inputs may come from anywhere under this directory
 * params: { depth: 100 }
 * steps:
 *   convert:
 *     uses: convert.squad
 *     with: { input: fixtures/squad/dev.json, out: examples.jsonl, corpus-out: corpus.jsonl }
 *   bm25:
 *     uses: mine.bm25
 *     with: { records: '${steps.convert.outputs.out}', depth: '${params.depth}', out: stage1.jsonl }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { UsageError } from '../util/errors.ts';

/** A place in the pipeline file (1-based line and column). */
export interface Loc {
  line: number;
  col: number;
}

/** A scalar or list value from the file, with where it was written. */
export interface Located<T = unknown> {
  value: T;
  loc: Loc;
}

export interface StepSpec {
  name: string;
  uses: Located<string>;
  description?: string;
  /** The command's options as written (kebab or camel keys), in file order. */
  with: Map<string, Located>;
  loc: Loc;
}

/** A pipeline file, structurally checked; option values are still unresolved. */
export interface PipelineSpec {
  /** Absolute path of the pipeline file. */
  file: string;
  /** The file as the user named it, for messages. */
  shown: string;
  /** Directory of the pipeline file: relative paths in it are resolved from here. */
  dir: string;
  /** The file's text (its sha256 goes into the run manifest). */
  text: string;
  name: string;
  description?: string;
  seed: number;
  workdir?: Located<string>;
  root?: Located<string>;
  allowOutside: boolean;
  params: Map<string, Located>;
  /** The `executor:` block (kebab keys as written); checked against EXECUTOR_OPTIONS by the planner. */
  executor: Map<string, Located>;
  steps: StepSpec[];
}

/**
 * All problems found in a pipeline file, one `file:line:col: message` per line.
 * @example
 * try { planPipeline(await readPipelineFile('p.yaml')); } catch (e) { if (e instanceof PipelineError) console.error(e.issues.join('\n')); }
 */
export class PipelineError extends UsageError {
  constructor(readonly issues: string[]) {
    super(issues.length === 1 ? issues[0] : `${issues.length} problems:\n  ${issues.join('\n  ')}`);
    this.name = 'PipelineError';
  }
}

/** Collects issues with their locations; `throwIfAny` turns them into one PipelineError. */
export class Issues {
  readonly list: string[] = [];
  constructor(readonly file: string) {}
  add(loc: Loc | undefined, message: string): void {
    this.list.push(loc ? `${this.file}:${loc.line}:${loc.col}: ${message}` : `${this.file}: ${message}`);
  }
  /** Throws every issue, in file order (those without a line last). */
  throwIfAny(): void {
    if (!this.list.length) return;
    const pos = (m: string) => {
      const at = /^[^\n]*?:(\d+):(\d+): /.exec(m);
      return at ? Number(at[1]) * 1e4 + Number(at[2]) : Infinity;
    };
    throw new PipelineError([...this.list].sort((a, b) => pos(a) - pos(b)));
  }
}

export const TOP_KEYS = ['name', 'description', 'seed', 'workdir', 'root', 'allow-outside', 'params', 'executor', 'steps'] as const;
export const STEP_KEYS = ['uses', 'description', 'with'] as const;
/** Step names appear in `${steps.NAME...}` and `--set NAME.key=...`, so no dots or spaces. */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * Reads and structurally checks a pipeline file.
 * @example const spec = await readPipelineFile('pipelines/squad-two-stage.yaml');
 */
export async function readPipelineFile(path: string): Promise<PipelineSpec> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${path}: cannot read pipeline file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parsePipeline(text, file, path);
}

/**
 * Parses pipeline YAML text; `shownAs` is the file name used in messages.
 * @example const spec = parsePipeline(readFileSync('p.yaml', 'utf8'), resolve('p.yaml'), 'p.yaml');
 */
export function parsePipeline(text: string, file: string, shownAs = file): PipelineSpec {
  const issues = new Issues(shownAs);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locOf = (node: Node | null | undefined): Loc | undefined => (node?.range ? lines.linePos(node.range[0]) : undefined);
  for (const err of doc.errors) {
    const pos = lines.linePos(err.pos[0]);
    issues.add(pos, `YAML: ${err.message.split('\n')[0]}`);
  }
  issues.throwIfAny();

  const root = doc.contents;
  if (!isMap(root)) {
    issues.add(locOf(root as Node) ?? { line: 1, col: 1 }, 'a pipeline must be a mapping with keys: ' + TOP_KEYS.join(', '));
    issues.throwIfAny();
  }
  const top = pairs(root as YAMLMap, TOP_KEYS, 'pipeline', issues, locOf);

  const name = scalarString(top.get('name'), 'name', issues, locOf);
  if (name === undefined && !top.has('name')) issues.add({ line: 1, col: 1 }, 'missing required key "name"');
  else if (name !== undefined && !NAME_RE.test(name)) issues.add(locOf(top.get('name')!.value as Node), `name "${name}": use letters, digits, "-" and "_"`);

  let seed = 0;
  if (top.has('seed')) {
    const node = top.get('seed')!.value as Node;
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) issues.add(locOf(node), `seed: expected an integer in 0..4294967295, got ${JSON.stringify(v ?? null)}`);
    else seed = v;
  }

  let allowOutside = false;
  if (top.has('allow-outside')) {
    const node = top.get('allow-outside')!.value as Node;
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'boolean') issues.add(locOf(node), `allow-outside: expected true or false, got ${JSON.stringify(v ?? null)}`);
    else allowOutside = v;
  }

  const located = (key: string): Located<string> | undefined => {
    const value = scalarString(top.get(key), key, issues, locOf);
    return value === undefined ? undefined : { value, loc: locOf(top.get(key)!.value as Node)! };
  };

  /** A top-level mapping of plain values (`params:`, `executor:`), each kept with its location. */
  const plainMapping = (section: string, expected: string, checkName: boolean): Map<string, Located> => {
    const out = new Map<string, Located>();
    const pair = top.get(section);
    if (!pair || pair.value === null) return out;
    if (!isMap(pair.value)) {
      issues.add(locOf(pair.value as Node), `${section}: expected ${expected}`);
      return out;
    }
    for (const item of (pair.value as YAMLMap).items) {
      const key = isScalar(item.key) ? String(item.key.value) : '';
      if (checkName && !NAME_RE.test(key)) issues.add(locOf(item.key as Node), `${section}: name "${key}": use letters, digits, "-" and "_"`);
      const value = plainValue(item.value as Node, `${section}.${key}`, issues, locOf);
      if (value !== undefined) out.set(key, { value, loc: locOf(item.value as Node)! });
    }
    return out;
  };
  const params = plainMapping('params', 'a mapping of names to values', true);
  const executor = plainMapping('executor', 'a mapping of settings (partition, time, max-parallel, retries, ...)', false);

  const steps: StepSpec[] = [];
  const stepsPair = top.get('steps');
  if (!stepsPair) issues.add({ line: 1, col: 1 }, 'missing required key "steps"');
  else if (!isMap(stepsPair.value) || (stepsPair.value as YAMLMap).items.length === 0) {
    issues.add(locOf(stepsPair.value as Node) ?? locOf(stepsPair.key as Node), 'steps: expected a mapping of step names to steps (uses:, with:)');
  } else {
    for (const item of (stepsPair.value as YAMLMap).items) {
      const stepName = isScalar(item.key) ? String(item.key.value) : '';
      const stepLoc = locOf(item.key as Node)!;
      if (!NAME_RE.test(stepName)) {
        issues.add(stepLoc, `step name "${stepName}": use letters, digits, "-" and "_" (it is referenced as \${steps.NAME.outputs.KEY})`);
        continue;
      }
      if (!isMap(item.value)) {
        issues.add(locOf(item.value as Node) ?? stepLoc, `steps.${stepName}: expected a mapping with keys: ${STEP_KEYS.join(', ')}`);
        continue;
      }
      const sp = pairs(item.value as YAMLMap, STEP_KEYS, `steps.${stepName}`, issues, locOf);
      const uses = scalarString(sp.get('uses'), `steps.${stepName}.uses`, issues, locOf);
      if (!sp.has('uses')) issues.add(stepLoc, `steps.${stepName}: missing required key "uses" (a command id such as convert.squad)`);
      const withMap = new Map<string, Located>();
      const withPair = sp.get('with');
      if (withPair && withPair.value !== null) {
        if (!isMap(withPair.value)) issues.add(locOf(withPair.value as Node), `steps.${stepName}.with: expected a mapping of option names to values`);
        else {
          for (const opt of (withPair.value as YAMLMap).items) {
            const key = isScalar(opt.key) ? String(opt.key.value) : '';
            const value = plainValue(opt.value as Node, `steps.${stepName}.with.${key}`, issues, locOf);
            if (value !== undefined) withMap.set(key, { value, loc: locOf(opt.value as Node) ?? locOf(opt.key as Node)! });
          }
        }
      }
      if (uses !== undefined) {
        steps.push({
          name: stepName,
          uses: { value: uses, loc: locOf(sp.get('uses')!.value as Node)! },
          description: scalarString(sp.get('description'), `steps.${stepName}.description`, issues, locOf),
          with: withMap,
          loc: stepLoc,
        });
      }
    }
  }
  const description = scalarString(top.get('description'), 'description', issues, locOf);
  const workdir = located('workdir');
  const rootDir = located('root');
  issues.throwIfAny();
  return {
    file,
    shown: shownAs,
    dir: dirname(file),
    text,
    name: name!,
    description,
    seed,
    workdir,
    root: rootDir,
    allowOutside,
    params,
    executor,
    steps,
  };
}

/** The pairs of a mapping by key; unknown keys are reported with the allowed ones. */
function pairs(map: YAMLMap, allowed: readonly string[], where: string, issues: Issues, locOf: (n: Node) => Loc | undefined): Map<string, Pair> {
  const out = new Map<string, Pair>();
  for (const item of map.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    if (!allowed.includes(key)) issues.add(locOf(item.key as Node), `${where}: unknown key "${key}"; allowed: ${allowed.join(', ')}`);
    else out.set(key, item as Pair);
  }
  return out;
}

function scalarString(pair: Pair | undefined, where: string, issues: Issues, locOf: (n: Node) => Loc | undefined): string | undefined {
  if (!pair) return undefined;
  const node = pair.value as Node;
  if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
    issues.add(locOf(node) ?? locOf(pair.key as Node), `${where}: expected a string`);
    return undefined;
  }
  return String(node.value);
}

/** A scalar or a list of scalars; nested mappings are not option values. */
function plainValue(node: Node | null, where: string, issues: Issues, locOf: (n: Node) => Loc | undefined): unknown {
  if (node === null || (isScalar(node) && node.value === null)) {
    issues.add(node ? locOf(node) : undefined, `${where}: missing value`);
    return undefined;
  }
  if (isScalar(node)) return node.value;
  if (isSeq(node)) {
    const items: unknown[] = [];
    for (const item of node.items) {
      if (!isScalar(item)) {
        issues.add(locOf(item as Node), `${where}: list items must be plain values`);
        return undefined;
      }
      items.push(item.value);
    }
    return items;
  }
  issues.add(locOf(node), `${where}: expected a value or a list of values, not a mapping`);
  return undefined;
}
