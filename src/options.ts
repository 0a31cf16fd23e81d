/**
 * Options are declared once, as data. The same declaration parses CLI flags (`--passage-words 100`),
 * validates pipeline YAML params (`passage-words: 100`) and renders the docs (`dprep help ...`).
 * Keys are camelCase in code; flags and YAML keys are their kebab-case form.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './util/errors.ts';

export type OptionType = 'string' | 'number' | 'integer' | 'boolean' | 'list';

/** What a path-valued option means to the pipeline runner: hashed input, or produced output. */
export type FileRole = 'input' | 'output';

export interface OptionSpec {
  type: OptionType;
  help: string;
  default?: string | number | boolean | readonly string[] | readonly number[];
  required?: boolean;
  choices?: readonly string[];
  /** For a list: its items are numbers of this type (`--k 1,5,20`), each within min/max. */
  items?: 'number' | 'integer';
  /** Smallest allowed value of a number/integer option or list item (inclusive); checked wherever options are resolved. */
  min?: number;
  /** Largest allowed value of a number/integer option (inclusive). */
  max?: number;
  /** Marks a path option so the pipeline can hash it (input) or track and atomically produce it (output). */
  role?: FileRole;
  /** Suffixes of the files an output option's command writes beside it (`.summary.json` → `<out>.summary.json`): outputs too, for the path checks. */
  sideFiles?: readonly string[];
}

export type OptionsSpec = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'number' | 'integer'
  ? number
  : S['type'] extends 'boolean'
    ? boolean
    : S['type'] extends 'list'
      ? S['items'] extends 'number' | 'integer'
        ? number[]
        : string[]
      : S['choices'] extends readonly (infer C)[]
        ? C
        : string;

type IsAlwaysSet<S extends OptionSpec> = S['required'] extends true ? true : S extends { default: unknown } ? true : S['type'] extends 'boolean' ? true : false;

/** The parsed values of an options spec: required and defaulted options are always present. */
export type OptionValues<O extends OptionsSpec> = {
  [K in keyof O as IsAlwaysSet<O[K]> extends true ? K : never]: ValueOf<O[K]>;
} & {
  [K in keyof O as IsAlwaysSet<O[K]> extends true ? never : K]?: ValueOf<O[K]>;
};

/** What a command returns: metrics end up in the run manifest and summary tables. */
export interface CommandResult {
  metrics?: Record<string, number | string>;
}

/** Services a command gets from whoever runs it (the CLI or the pipeline runner). */
export interface RunContext {
  /** Human-readable progress and notes; goes to stderr. A step's seed comes in its options (see `seedOption`). */
  log(message: string): void;
  /** Set when the pipeline runner drives the command (resumable steps keep state under it). */
  stateDir?: string;
}

export interface CommandSpec<O extends OptionsSpec = OptionsSpec> {
  /** Dotted id used by pipelines: `convert.squad`; the CLI words are its parts: `dprep convert squad`. */
  id: string;
  summary: string;
  /** Longer doc block: input format, output, an example command. */
  description?: string;
  options: O;
  /** Option keys filled, in order, by positional arguments (e.g. `dprep run FILE`). */
  positional?: readonly string[];
  /**
   * Set on the commands that drive pipelines (`run`, `status`, `dag`, `validate`): a pipeline
   * step may not use one (no pipelines inside pipelines), and the planner says so by this flag
   * rather than by knowing their ids.
   */
  drivesPipelines?: boolean;
  /**
   * Set on the commands whose work splits into units (issue 14; see src/util/units.ts): `over` is
   * the input option whose records are split — unit i of N covers records [i*U, min((i+1)*U, n)),
   * U = ceil(n/N). Such a command takes `--unit I --units N` (UNIT_OPTIONS): with them it does one
   * unit's work into unitDir(out, I, N) and commits it with a done marker; without them, when every
   * unit of some N is done, it merges them in unit order (doing no work again), else it runs whole.
   */
  units?: { over: string };
  run(options: OptionValues<O>, context: RunContext): Promise<CommandResult | void>;
}

/** Declares a command; the identity function that gives `run` its typed options. */
export function defineCommand<const O extends OptionsSpec>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/**
 * The `seed` option of a command that draws random numbers: the one path a seed takes. A pipeline
 * fills it with the step's derived seed (from the pipeline seed and the step name) unless the step
 * sets `seed:`; on the CLI `--seed` wins, else `fallback`. 32-bit, like the pipeline's `seed:`.
 * @example options: { seed: seedOption(13, 'the random sampling') }
 */
export function seedOption<const D extends number>(fallback: D, purpose: string) {
  return { type: 'integer', min: 0, max: 0xffffffff, default: fallback, help: `seed of ${purpose} (in a pipeline: derived from the pipeline seed and step name)` } as const;
}

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
export const camel = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Checks and coerces raw values (strings from the CLI, or YAML scalars) against a spec.
 * `where` prefixes error messages (e.g. `pipelines/x.yaml:12 step "bm25"`).
 */
export function resolveOptions<O extends OptionsSpec>(
  spec: O,
  raw: Record<string, unknown>,
  where: string,
): OptionValues<O> {
  const out: Record<string, unknown> = {};
  const allowed = Object.keys(spec).map(kebab);
  for (const [rawKey, value] of Object.entries(raw)) {
    const key = camel(rawKey);
    const opt = spec[key];
    if (!opt) {
      throw new UsageError(`${where}: unknown option "${rawKey}"; allowed: ${allowed.join(', ')}`);
    }
    out[key] = coerce(opt, value, `${where}: option "${kebab(key)}"`);
  }
  for (const [key, opt] of Object.entries(spec)) {
    if (out[key] !== undefined) continue;
    if (opt.default !== undefined) out[key] = Array.isArray(opt.default) ? [...opt.default] : opt.default;
    else if (opt.type === 'boolean') out[key] = false;
    else if (opt.required) throw new UsageError(`${where}: missing required option "${kebab(key)}" (${opt.help})`);
  }
  return out as OptionValues<O>;
}

function coerce(opt: OptionSpec, value: unknown, where: string): unknown {
  switch (opt.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true') return true;
      if (value === 'false') return false;
      throw new UsageError(`${where}: expected true or false, got ${JSON.stringify(value)}`);
    case 'number':
    case 'integer':
      return coerceNumber(opt, opt.type, value, where);
    case 'list': {
      const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [String(value)];
      const strings = items.map((s) => s.trim()).filter((s) => s !== '');
      const itemType = opt.items;
      return itemType ? strings.map((s) => coerceNumber(opt, itemType, s, `${where} item "${s}"`)) : strings;
    }
    case 'string': {
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new UsageError(`${where}: expected a string, got ${JSON.stringify(value)}`);
      }
      const s = String(value);
      if (opt.choices && !opt.choices.includes(s)) {
        throw new UsageError(`${where}: expected one of ${opt.choices.join(' | ')}, got "${s}"`);
      }
      return s;
    }
  }
}

function coerceNumber(opt: OptionSpec, type: 'number' | 'integer', value: unknown, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`${where}: expected a number, got ${JSON.stringify(value)}`);
  if (type === 'integer' && !Number.isInteger(n)) throw new UsageError(`${where}: expected an integer, got ${value}`);
  if ((opt.min !== undefined && n < opt.min) || (opt.max !== undefined && n > opt.max)) {
    throw new UsageError(`${where}: expected ${describeRange(opt)}, got ${n}`);
  }
  return n;
}

/** `an integer >= 1`, `a number in [0, 1]`: the range of a number option (or list item), for errors and docs. */
export function describeRange(opt: OptionSpec): string {
  const kind = (opt.items ?? opt.type) === 'integer' ? 'an integer' : 'a number';
  if (opt.min !== undefined && opt.max !== undefined) return `${kind} in [${opt.min}, ${opt.max}]`;
  if (opt.min !== undefined) return `${kind} >= ${opt.min}`;
  if (opt.max !== undefined) return `${kind} <= ${opt.max}`;
  return kind;
}

/** The value type as help and docs show it: `strategy <top|random>`, `integer >=1`, `list of integer >=1`. */
export function describeType(opt: OptionSpec, sep = '|'): string {
  if (opt.choices) return opt.choices.join(sep);
  let type: string = opt.items ? `list of ${opt.items}` : opt.type;
  if (opt.min !== undefined || opt.max !== undefined) {
    type += ' ' + (opt.min !== undefined && opt.max !== undefined ? `${opt.min}..${opt.max}` : opt.min !== undefined ? `>=${opt.min}` : `<=${opt.max}`);
  }
  return type;
}

/**
 * Parses `--flag value`, `--flag=value`, `--no-flag` and repeated list flags into raw values
 * for `resolveOptions`. Positional arguments are returned separately.
 */
export function parseFlags(spec: OptionsSpec, argv: readonly string[], where: string): { raw: Record<string, unknown>; positional: string[] } {
  const raw: Record<string, unknown> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let key = camel(name);
    let opt = spec[key];
    if (!opt && name.startsWith('no-') && spec[camel(name.slice(3))]?.type === 'boolean') {
      key = camel(name.slice(3));
      raw[key] = false;
      continue;
    }
    if (!opt) {
      const allowed = Object.keys(spec).map((k) => '--' + kebab(k));
      throw new UsageError(`${where}: unknown flag --${name}; allowed: ${allowed.join(' ')}`);
    }
    if (opt.type === 'boolean' && value === undefined) {
      raw[key] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${where}: flag --${name} needs a value`);
      value = argv[++i];
    }
    if (opt.type === 'list' && raw[key] !== undefined) raw[key] = `${raw[key]},${value}`;
    else raw[key] = value;
  }
  return { raw, positional };
}

/** Renders the options of a command as help text (also used for docs/cli.md). */
export function renderHelp(cmd: CommandSpec): string {
  const lines = [`dprep ${cmd.id.split('.').join(' ')} — ${cmd.summary}`, ''];
  if (cmd.description) lines.push(cmd.description.trim(), '');
  lines.push('Options:');
  for (const [key, opt] of Object.entries(cmd.options)) {
    const flag = `--${kebab(key)}` + (opt.type === 'boolean' ? '' : ` <${describeType(opt)}>`);
    const extra = opt.required ? ' (required)' : opt.default !== undefined ? ` (default: ${String(opt.default)})` : '';
    lines.push(`  ${flag.padEnd(34)} ${opt.help}${extra}`);
  }
  return lines.join('\n');
}

// Outputs never overwrite inputs: the one check, run before a command starts (the CLI for its
// flags, the planner for every step of a pipeline). Paths are compared as the filesystem sees
// them — `..` folded, symlinks resolved, hard links by inode — so no spelling slips through.

/** One path a command reads or writes, named as the user would recognize it (`--out`, `--out + ".summary.json"`). */
export interface PathUse {
  label: string;
  path: string;
  role: 'input' | 'output';
}

/** Two uses of one place: `a` is the output; `b` is an input or another output. */
export interface PathConflict {
  a: PathUse;
  b: PathUse;
  /** same: one file; a-in-b: `a` lies inside directory `b`; b-in-a: `b` lies inside directory `a`. */
  how: 'same' | 'a-in-b' | 'b-in-a';
}

/**
 * The real path of `p`, existing or not: symlinks of its deepest existing ancestor resolved,
 * the rest appended (an output usually does not exist yet).
 * @example realPath('out/../data/./train.json') // '/home/me/data/train.json'
 */
export function realPath(p: string): string {
  let head = resolve(p);
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = dirname(head);
    if (parent === head) break;
    tail.unshift(basename(head));
    head = parent;
  }
  let real = head;
  try {
    real = realpathSync.native(head);
  } catch {
    // Unreadable ancestor: compare the path as resolved.
  }
  return tail.length ? join(real, ...tail) : real;
}

/** `dev:ino` of an existing file, so two hard links to one file compare equal. */
function inode(real: string): string | undefined {
  try {
    const s = statSync(real);
    return s.isFile() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/** `p` and each directory above it, nearest first. */
function* ancestors(p: string): Generator<string> {
  for (let d = dirname(p); ; d = dirname(d)) {
    yield d;
    if (dirname(d) === d) return;
  }
}

/**
 * Every pair where an output would write over an input or over another output. Linear in the
 * number of paths (times their depth): each path's ancestors are looked up, never all pairs.
 * @example findPathConflicts([{ label: '--out', path: 'a.json', role: 'output' }, { label: '--input', path: './a.json', role: 'input' }])
 */
export function findPathConflicts(uses: readonly PathUse[]): PathConflict[] {
  const byReal = new Map<string, PathUse[]>();
  const byInode = new Map<string, PathUse[]>();
  const add = (m: Map<string, PathUse[]>, k: string, u: PathUse) => (m.get(k) ?? m.set(k, []).get(k)!).push(u);
  const reals = uses.map((u) => realPath(u.path));
  uses.forEach((u, i) => {
    add(byReal, reals[i], u);
    const ino = inode(reals[i]);
    if (ino) add(byInode, ino, u);
  });

  const out: PathConflict[] = [];
  const seen = new Set<string>();
  const report = (a: PathUse, b: PathUse, how: PathConflict['how']) => {
    if (a === b) return;
    // An output paired with an output is reported once, whichever comes first.
    const id = [a.label, b.label].sort().join('\0') + how;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ a, b, how });
  };
  uses.forEach((u, i) => {
    const same = new Set([...(byReal.get(reals[i]) ?? []), ...(byInode.get(inode(reals[i]) ?? '') ?? [])]);
    for (const other of same) {
      if (u.role === 'output') report(u, other, 'same');
    }
    for (const dir of ancestors(reals[i])) {
      for (const holder of byReal.get(dir) ?? []) {
        // u lies inside holder: harmful when either of them is written.
        if (u.role === 'output') report(u, holder, 'a-in-b');
        else if (holder.role === 'output') report(holder, u, 'b-in-a');
      }
    }
  });
  return out;
}

/** The sentence for one conflict, e.g. `--out (x.json) is the same file as --input (x.json)`. */
export function describeConflict(c: PathConflict): string {
  const what = c.b.role === 'input' ? 'an output must not overwrite an input' : 'two outputs cannot share a path';
  if (c.how === 'same') return `${c.a.label} (${c.a.path}) is the same path as ${c.b.label} (${c.b.path}): ${what}`;
  if (c.how === 'a-in-b') return `${c.a.label} (${c.a.path}) is inside ${c.b.label} (${c.b.path}): ${what}`;
  return `${c.b.label} (${c.b.path}) is inside ${c.a.label} (${c.a.path}), which the command writes: ${what}`;
}

/**
 * The paths of a command's options by their declared role; an output's side files
 * (`sideFiles` suffixes, e.g. `<out>.summary.json`) count as outputs of their own.
 */
export function optionPathUses(spec: OptionsSpec, options: Record<string, unknown>, flag = (key: string) => `--${kebab(key)}`): PathUse[] {
  const uses: PathUse[] = [];
  for (const [key, opt] of Object.entries(spec)) {
    if (!opt.role) continue;
    const value = options[key];
    const paths = Array.isArray(value) ? value : typeof value === 'string' && value !== '' ? [value] : [];
    for (const path of paths) {
      if (typeof path !== 'string') continue;
      uses.push({ label: flag(key), path, role: opt.role });
      if (opt.role === 'output') for (const suffix of opt.sideFiles ?? []) uses.push({ label: `${flag(key)} + "${suffix}"`, path: path + suffix, role: 'output' });
    }
  }
  return uses;
}

/**
 * Refuses (UsageError, exit 2) a command whose outputs would write over its inputs or over each
 * other; called before the command runs, so nothing is written.
 * @example checkPathHazards(cmd.options, options, 'dprep convert squad');
 */
export function checkPathHazards(spec: OptionsSpec, options: Record<string, unknown>, where: string): void {
  const conflicts = findPathConflicts(optionPathUses(spec, options));
  if (conflicts.length) throw new UsageError(`${where}: ${conflicts.map(describeConflict).join('; ')}; nothing was written`);
}
