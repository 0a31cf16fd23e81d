/**
 * From a checked pipeline file to a runnable plan: each step's options resolved with its
 * command's own declaration (`resolveOptions`, the one used by the CLI), `${params.x}` and
 * `${steps.S.outputs.KEY}` substituted, input paths resolved and fenced in, outputs placed in
 * the workdir, seeds derived, and the steps put in dependency order (cycles reported).
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import { parse as parseYamlScalar } from 'yaml';
import { camel, describeConflict, findPathConflicts, kebab, resolveOptions, type CommandSpec, type OptionSpec, type PathUse } from '../options.ts';
import { UsageError } from '../util/errors.ts';
import { deriveSeed } from '../util/random.ts';
import { asRegistry, type CommandRegistry } from './registry.ts';
import { EXECUTOR_OPTIONS, resolveExecutorSettings, type ExecutorSettings } from './executor.ts';
import { topoOrder } from './graph.ts';
import { Issues, type Loc, type PipelineSpec } from './schema.ts';

/** Kept here too for callers that imported them from the planner. */
export { downstreamOf, upstreamOf } from './graph.ts';

/** One path an input option points at; `fromStep` is set when it is another step's output. */
export interface InputPath {
  abs: string;
  fromStep?: string;
  fromOutput?: string;
}

export interface InputBinding {
  /** Option key, kebab-case as in the YAML. */
  key: string;
  paths: InputPath[];
}

export interface OutputBinding {
  key: string;
  /** Path relative to the workdir, `/`-separated. */
  rel: string;
  abs: string;
  /** The option's side files (`.mining.json` → `<out>.mining.json`): another step may read them as this output. */
  sideFiles?: readonly string[];
}

export interface PlannedStep {
  name: string;
  uses: string;
  command: CommandSpec<any>;
  description?: string;
  loc: Loc;
  seed: number;
  /** The command's options (camelCase keys), with final absolute input and output paths. */
  options: Record<string, unknown>;
  /** Options that are neither inputs nor outputs (kebab keys, sorted): part of the cache key. */
  params: Record<string, unknown>;
  inputs: InputBinding[];
  outputs: OutputBinding[];
  /** Steps whose outputs this one reads, in file order. */
  deps: string[];
  /**
   * A shardable command's unit count from the step's `units:` (else the executor's `units`).
   * Not a param: the number of units never changes the bytes, so it stays out of the cache key.
   */
  units?: number;
}

export interface Plan {
  spec: PipelineSpec;
  workdir: string;
  /** Inputs must lie under this directory unless the pipeline says `allow-outside: true`. */
  root: string;
  /** In dependency order (file order among independent steps). */
  steps: PlannedStep[];
  /** The `executor:` block with `--set executor.KEY=VALUE` applied (never part of a cache key). */
  executor: ExecutorSettings;
}

export interface PlanOptions {
  /** The commands steps may use (the CLI passes all but the pipeline drivers; a driver in it is refused anyway); a list is wrapped as a registry. */
  commands: CommandRegistry | readonly CommandSpec<any>[];
  /** `step.key=value` or `params.name=value`, applied before anything is resolved. */
  overrides?: readonly string[];
  /** Overrides the pipeline's workdir (resolved from the current directory). */
  workdir?: string;
  /** Report input files that do not exist (default true; `dag` turns it off). */
  checkInputsExist?: boolean;
}

/** Workdir entries the runner keeps for itself. */
export const RESERVED_OUTPUTS = ['.dprep', 'runs', 'dprep.lock.yaml'];

/**
 * Resolves a pipeline into a plan, reporting every problem at once (PipelineError).
 * @example const plan = planPipeline(await readPipelineFile('p.yaml'), { commands, overrides: ['train.lr=3e-5'] });
 */
export function planPipeline(spec: PipelineSpec, opts: PlanOptions): Plan {
  const issues = new Issues(spec.shown);
  const root = resolve(spec.dir, spec.root?.value ?? '.');
  const workdir = resolveWorkdir(spec, root, opts.workdir, issues);
  const { params, stepWith, executor: rawExecutor } = applyOverrides(spec, opts.overrides ?? [], issues);
  let executor = resolveExecutorSettings({}, 'executor');
  try {
    executor = resolveExecutorSettings(Object.fromEntries([...rawExecutor].map(([k, e]) => [k, e.value])), `${spec.shown}: executor`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const key = /option "([^"]+)"/.exec(err.message)?.[1];
    const loc = key ? rawExecutor.get(key)?.loc ?? rawExecutor.get(camel(key))?.loc : undefined;
    issues.add(loc?.line ? loc : undefined, err.message.replace(/^.*?: executor: /, 'executor: '));
  }
  const ctx: PlanContext = { spec, issues, root, workdir, params, stepWith, checkInputsExist: opts.checkInputsExist !== false, commandByStep: new Map(), outputsByStep: new Map() };

  // Output paths first: references to them may come before the producing step in the file.
  placeOutputs(ctx, asRegistry(opts.commands));
  checkOutputOverlaps(ctx);
  const planned: PlannedStep[] = [];
  for (const step of spec.steps) {
    const cmd = ctx.commandByStep.get(step.name);
    const p = cmd && planStep(ctx, step, cmd);
    if (p) planned.push(p);
  }
  checkOutputsSpareSources(ctx, planned);
  issues.throwIfAny();

  const ordered = topoOrder(planned, issues, spec.steps.map((s) => s.name));
  issues.throwIfAny();
  return { spec, workdir, root, steps: ordered, executor };
}

type Entry = { value: unknown; loc: Loc };
type Step = PipelineSpec['steps'][number];

/** What the planning phases share: the spec with overrides applied, and what earlier phases found. */
interface PlanContext {
  spec: PipelineSpec;
  issues: Issues;
  root: string;
  workdir: string;
  params: Map<string, Entry>;
  /** Each step's `with:` entries after `--set` (kebab or camel keys, as written). */
  stepWith: Map<string, Map<string, Entry>>;
  checkInputsExist: boolean;
  commandByStep: Map<string, CommandSpec<any>>;
  outputsByStep: Map<string, Map<string, OutputBinding>>;
}

/** `dir` itself or something under it (lexically). */
function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** `inside`, for the path as written and with symlinks resolved: a link must not smuggle a path out of the fence. */
function realInside(path: string, dir: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);
  return inside(path, dir) && inside(real(path), real(dir));
}

/** `--workdir`, else the file's `workdir:` (fenced in like inputs), else `.dprep/<name>` beside the file. */
function resolveWorkdir(spec: PipelineSpec, root: string, override: string | undefined, issues: Issues): string {
  if (override) return resolve(override);
  if (!spec.workdir) return resolve(spec.dir, '.dprep', spec.name);
  const workdir = resolve(spec.dir, spec.workdir.value);
  if (!spec.allowOutside && !inside(workdir, root)) issues.add(spec.workdir.loc, `workdir "${spec.workdir.value}" is outside ${root}; set allow-outside: true to allow it`);
  return workdir;
}

/** `--set` overrides: `params.x=v` changes a param, `step.key=v` an option of a step (at line 0: not from the file). */
function applyOverrides(spec: PipelineSpec, overrides: readonly string[], issues: Issues): Pick<PlanContext, 'params' | 'stepWith'> & { executor: Map<string, Entry> } {
  const params = new Map(spec.params);
  const executor = new Map(spec.executor);
  const stepWith = new Map(spec.steps.map((s) => [s.name, new Map(s.with)]));
  for (const o of overrides) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(o);
    if (!m) {
      issues.add(undefined, `--set ${o}: expected STEP.OPTION=VALUE or params.NAME=VALUE`);
      continue;
    }
    const [, target, key, value] = m;
    const loc = { line: 0, col: 0 };
    if (target === 'executor') {
      if (!(camel(key) in EXECUTOR_OPTIONS)) issues.add(undefined, `--set ${o}: no executor setting "${key}"; settings: ${Object.keys(EXECUTOR_OPTIONS).map(kebab).join(', ')}`);
      else executor.set(key, { value: parseYamlScalar(value) ?? value, loc });
    } else if (target === 'params') {
      if (!params.has(key)) issues.add(undefined, `--set ${o}: no param "${key}"; params: ${[...params.keys()].join(', ') || '(none)'}`);
      else params.set(key, { value: parseYamlScalar(value) ?? value, loc });
    } else if (!stepWith.has(target)) {
      issues.add(undefined, `--set ${o}: no step "${target}"; steps: ${[...stepWith.keys()].join(', ')}`);
    } else stepWith.get(target)!.set(key, { value, loc });
  }
  return { params, stepWith, executor };
}

/** Finds each step's command and places its outputs in the workdir (relative, not reserved). */
function placeOutputs(ctx: PlanContext, registry: CommandRegistry): void {
  const { issues } = ctx;
  for (const step of ctx.spec.steps) {
    const cmd = registry.get(step.uses.value);
    if (!cmd || cmd.drivesPipelines) {
      const usable = registry.ids().filter((id) => !registry.get(id)!.drivesPipelines);
      issues.add(step.uses.loc, `steps.${step.name}.uses: unknown command "${step.uses.value}"; allowed: ${usable.join(', ')}`);
      continue;
    }
    ctx.commandByStep.set(step.name, cmd);
    const outs = new Map<string, OutputBinding>();
    for (const [rawKey, entry] of ctx.stepWith.get(step.name)!) {
      const opt = cmd.options[camel(rawKey)] as OptionSpec | undefined;
      if (opt?.role !== 'output') continue;
      const loc = entry.loc.line ? entry.loc : undefined;
      const value = substituteParams(entry.value, ctx.params, (msg) => issues.add(loc, `steps.${step.name}.with.${rawKey}: ${msg}`));
      if (typeof value !== 'string' || value.includes('${')) {
        issues.add(loc, `steps.${step.name}.with.${rawKey}: an output is a path relative to the workdir; got ${JSON.stringify(entry.value)}`);
        continue;
      }
      const rel = posix.normalize(value.replaceAll('\\', '/')).replace(/\/+$/, '');
      if (isAbsolute(value) || rel === '.' || rel === '..' || rel.startsWith('../')) {
        issues.add(loc, `steps.${step.name}.with.${rawKey}: output "${value}" must be a relative path inside the workdir`);
        continue;
      }
      if (RESERVED_OUTPUTS.includes(rel.split('/')[0])) {
        issues.add(loc, `steps.${step.name}.with.${rawKey}: output "${value}" is reserved for the runner (${RESERVED_OUTPUTS.join(', ')})`);
        continue;
      }
      outs.set(kebab(camel(rawKey)), { key: kebab(camel(rawKey)), rel, abs: resolve(ctx.workdir, rel), ...(opt.sideFiles ? { sideFiles: opt.sideFiles } : {}) });
    }
    ctx.outputsByStep.set(step.name, outs);
  }
}

/**
 * Two steps writing the same path, or one inside another's output directory, would clobber each
 * other. Linear in outputs: each output looks up its own path and its ancestors, never every pair.
 */
function checkOutputOverlaps(ctx: PlanContext): void {
  type Owned = { name: string; o: OutputBinding };
  const byRel = new Map<string, Owned>();
  // A directory that holds an earlier output → that output (a later output at the directory itself overlaps it).
  const holding = new Map<string, Owned>();
  for (const [name, outs] of ctx.outputsByStep) {
    for (const o of outs.values()) {
      const parents = o.rel.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      const clash = byRel.get(o.rel) ?? parents.map((d) => byRel.get(d)).find(Boolean) ?? holding.get(o.rel);
      if (clash) {
        const loc = ctx.stepWith.get(name)!.get(o.key)?.loc ?? ctx.spec.steps.find((s) => s.name === name)!.loc;
        ctx.issues.add(loc, `steps.${name}.with.${o.key}: output "${o.rel}" overlaps output "${clash.o.rel}" of step ${clash.name}`);
      }
      if (!byRel.has(o.rel)) byRel.set(o.rel, { name, o });
      for (const d of parents) if (!holding.has(d)) holding.set(d, { name, o });
    }
  }
}

/**
 * No step output (or the side file written beside it, `<out>.summary.json`) may be, hold or lie
 * inside a source input of any step: running the pipeline would overwrite the user's file (a
 * workdir that overlaps the inputs). Real paths are compared, so links and `..` do not hide it.
 */
function checkOutputsSpareSources(ctx: PlanContext, steps: readonly PlannedStep[]): void {
  const uses: PathUse[] = [];
  const locs = new Map<PathUse, Loc>();
  const push = (u: PathUse, loc: Loc) => {
    uses.push(u);
    locs.set(u, loc);
  };
  for (const step of steps) {
    const at = (key: string) => ctx.stepWith.get(step.name)?.get(key)?.loc ?? step.loc;
    for (const b of step.inputs) {
      for (const p of b.paths) if (!p.fromStep) push({ label: `steps.${step.name}.with.${b.key}`, path: p.abs, role: 'input' }, at(b.key));
    }
    for (const o of step.outputs) {
      const label = `steps.${step.name}.with.${o.key}`;
      push({ label, path: o.abs, role: 'output' }, at(o.key));
      for (const suffix of (step.command.options[camel(o.key)] as OptionSpec).sideFiles ?? []) push({ label: `${label} + "${suffix}"`, path: o.abs + suffix, role: 'output' }, at(o.key));
    }
  }
  for (const c of findPathConflicts(uses)) {
    // Output against output is checkOutputOverlaps' report, except for side files it does not see.
    if (c.b.role === 'output' && !c.a.label.includes(' + ') && !c.b.label.includes(' + ')) continue;
    const loc = locs.get(c.a)!;
    ctx.issues.add(loc.line ? loc : undefined, describeConflict(c));
  }
}

/** One step's `with:` bound option by option: raw values (camel keys), its input bindings and the steps it reads. */
interface StepBinding {
  raw: Record<string, unknown>;
  inputs: InputBinding[];
  deps: string[];
  ok: boolean;
}

/** Binds, seeds and resolves one step; undefined (with issues recorded) when any option is wrong. */
function planStep(ctx: PlanContext, step: Step, cmd: CommandSpec<any>): PlannedStep | undefined {
  const bound: StepBinding = { raw: {}, inputs: [], deps: [], ok: true };
  for (const [rawKey, entry] of ctx.stepWith.get(step.name)!) bindOption(ctx, step, cmd, rawKey, entry, bound);
  if (!bound.ok) return undefined;
  const seed = deriveSeed(ctx.spec.seed, step.name);
  if ('seed' in cmd.options && bound.raw.seed === undefined) bound.raw.seed = seed;
  let options: Record<string, unknown>;
  try {
    options = resolveOptions(cmd.options, bound.raw, `${atLoc(ctx, step.loc)}: steps.${step.name} (${cmd.id})`) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.issues.list.push(err.message);
      return undefined;
    }
    throw err;
  }
  let units: number | undefined;
  if (cmd.units) {
    // The executor sets --unit per task; the unit count decides where work runs, never the bytes.
    if (options.unit !== undefined) {
      const loc = ctx.stepWith.get(step.name)?.get('unit')?.loc;
      ctx.issues.add(loc?.line ? loc : undefined, `steps.${step.name}.with.unit: the executor picks the unit of each task; set units: (how many) only`);
      return undefined;
    }
    units = options.units as number | undefined;
    delete options.unit;
    delete options.units;
  }
  const stepParams: Record<string, unknown> = {};
  for (const key of Object.keys(options).sort()) {
    const role = (cmd.options[key] as OptionSpec).role;
    if (role !== 'input' && role !== 'output' && options[key] !== undefined) stepParams[kebab(key)] = options[key];
  }
  return {
    name: step.name,
    uses: cmd.id,
    command: cmd,
    description: step.description,
    loc: step.loc,
    seed: typeof options.seed === 'number' ? options.seed : seed,
    options,
    params: stepParams,
    inputs: bound.inputs,
    outputs: [...(ctx.outputsByStep.get(step.name)?.values() ?? [])],
    deps: bound.deps,
    units,
  };
}

const atLoc = (ctx: PlanContext, loc: Loc) => `${ctx.issues.file}:${loc.line}:${loc.col}`;

/**
 * One `with:` entry: an output takes its placed path; anything else has its references
 * substituted and is coerced on its own (so a wrong type is reported at its own line); an
 * input's paths are then resolved, fenced in and, unless they are another step's output, checked to exist.
 */
function bindOption(ctx: PlanContext, step: Step, cmd: CommandSpec<any>, rawKey: string, entry: Entry, bound: StepBinding): void {
  const { issues } = ctx;
  const key = camel(rawKey);
  const opt = cmd.options[key] as OptionSpec | undefined;
  const loc = entry.loc;
  if (!opt) {
    const allowed = Object.keys(cmd.options).map(kebab);
    issues.add(loc.line ? loc : undefined, `steps.${step.name}.with: unknown option "${rawKey}" for ${cmd.id}; allowed: ${allowed.join(', ')}`);
    bound.ok = false;
    return;
  }
  let optionOk = true;
  const fail = (msg: string) => {
    issues.add(loc.line ? loc : undefined, `steps.${step.name}.with.${rawKey}: ${msg}`);
    bound.ok = optionOk = false;
  };
  if (opt.role === 'output') {
    const out = ctx.outputsByStep.get(step.name)?.get(kebab(key));
    if (out) bound.raw[key] = out.abs;
    else bound.ok = false;
    return;
  }
  const refs: InputRef[] = [];
  const substitute = (v: unknown) => substituteAll(v, ctx.params, ctx.outputsByStep, fail, opt.role === 'input', refs, step.name);
  const value = Array.isArray(entry.value) ? entry.value.map(substitute) : substitute(entry.value);
  if (!optionOk) return;
  let resolved: unknown;
  try {
    resolved = resolveOptions({ [key]: opt }, { [key]: value }, `${atLoc(ctx, loc)}: steps.${step.name}.with`)[key];
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    issues.list.push(loc.line ? err.message : `${issues.file}: --set ${step.name}.${rawKey}: ${err.message.replace(/^.*?: option /, 'option ')}`);
    bound.ok = false;
    return;
  }
  bound.raw[key] = resolved;
  if (opt.role !== 'input') return;
  const items = Array.isArray(resolved) ? (resolved as string[]) : [resolved as string];
  const paths = resolveInputPaths(ctx, items, refs, fail);
  for (const p of paths) if (p.fromStep && !bound.deps.includes(p.fromStep)) bound.deps.push(p.fromStep);
  bound.raw[key] = Array.isArray(resolved) ? paths.map((p) => p.abs) : paths[0]?.abs;
  bound.inputs.push({ key: kebab(key), paths });
}

/** A reference to another step's output, with that output's side files. */
type InputRef = InputPath & { sideFiles?: readonly string[] };

/** An input's items as paths: another step's output, a file inside it or a side file of it (by reference), or a file under the fence that exists. */
function resolveInputPaths(ctx: PlanContext, items: readonly string[], refs: readonly InputRef[], fail: (msg: string) => void): InputPath[] {
  const { spec, root } = ctx;
  const paths: InputPath[] = [];
  for (const item of items) {
    const fromRef = refs.find((r) => item === r.abs || item.startsWith(r.abs + sep) || r.sideFiles?.some((suffix) => item === r.abs + suffix));
    if (fromRef) {
      paths.push({ abs: item, fromStep: fromRef.fromStep, fromOutput: fromRef.fromOutput });
      continue;
    }
    const abs = resolve(spec.dir, item);
    if (!spec.allowOutside && !realInside(abs, root)) fail(`input "${item}" is outside ${root}; widen "root:" or set allow-outside: true`);
    else if (ctx.checkInputsExist && !existsSync(abs)) fail(`input file not found: ${abs}`);
    else paths.push({ abs });
  }
  return paths;
}

/** Replaces `${params.x}` (typed when it is the whole value); other references are errors here. */
function substituteParams(value: unknown, params: Map<string, { value: unknown }>, fail: (msg: string) => void): unknown {
  return substituteAll(value, params, new Map(), fail, false, [], '');
}

/**
 * Substitutes references in one scalar. `${params.x}` alone keeps x's type; inside text it is
 * stringified. `${steps.S.outputs.KEY}` becomes S's output path (input options only); `$${` is a literal `${`.
 */
function substituteAll(
  value: unknown,
  params: Map<string, { value: unknown }>,
  outputs: Map<string, Map<string, OutputBinding>>,
  fail: (msg: string) => void,
  isInput: boolean,
  refs: InputRef[],
  self: string,
): unknown {
  if (typeof value !== 'string' || !value.includes('${')) return value;
  const whole = /^\$\{params\.([^}]+)\}$/.exec(value);
  if (whole) {
    const p = params.get(whole[1]);
    if (p) return p.value;
  }
  let failed = false;
  const out = value.replace(/\$\$\{|\$\{([^}]*)\}/g, (match, expr: string | undefined) => {
    if (match === '$${') return '${';
    const parts = expr!.split('.');
    if (parts[0] === 'params' && parts.length === 2) {
      const p = params.get(parts[1]);
      if (p) return String(p.value);
      fail(`unknown param "${parts[1]}" in ${match}; params: ${[...params.keys()].join(', ') || '(none)'}`);
    } else if (parts[0] === 'steps' && parts.length === 4 && parts[2] === 'outputs') {
      const [, stepName, , key] = parts;
      const outs = outputs.get(stepName);
      if (!isInput) fail(`${match}: step outputs can only be given to input options`);
      else if (stepName === self) fail(`${match}: a step cannot read its own output`);
      else if (!outs) fail(`${match}: no step "${stepName}" (or it has errors); steps: ${[...outputs.keys()].join(', ')}`);
      else {
        const out = outs.get(kebab(camel(key)));
        if (out) {
          refs.push({ abs: out.abs, fromStep: stepName, fromOutput: out.key, sideFiles: out.sideFiles });
          return out.abs;
        }
        fail(`${match}: step ${stepName} has no output "${key}"; its outputs: ${[...outs.keys()].join(', ') || '(none)'}`);
      }
    } else fail(`unknown reference ${match}; use \${params.NAME} or \${steps.STEP.outputs.OPTION} ($\${ for a literal)`);
    failed = true;
    return match;
  });
  return failed ? value : out;
}

/**
 * Re-joins `--set` values that the list option split at commas: an item that does not start
 * a new `NAME.KEY=` belongs to the previous one.
 * @example joinOverrides(['bm25.fields=title', 'text', 'params.x=1']) // ['bm25.fields=title,text', 'params.x=1']
 */
export function joinOverrides(items: readonly string[]): string[] {
  const out: string[] = [];
  for (const item of items) {
    if (out.length && !/^[^.=]+\.[^=]+=/.test(item)) out[out.length - 1] += ',' + item;
    else out.push(item);
  }
  return out;
}
