/**
 * Outputs never overwrite inputs: the one check, run before a command starts (the CLI for its
 * flags, the planner for every step of a pipeline). Paths are compared as the filesystem sees
 * them — `..` folded, symlinks resolved, hard links by inode — so no spelling slips through.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { kebab, type OptionsSpec } from './options.ts';
import { UsageError } from './util/errors.ts';

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
