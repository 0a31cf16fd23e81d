/**
 * The `dprep` command: finds the command named by the leading words, parses its flags from the
 * command's declared options, runs it, and turns errors into messages and exit codes
 * (0 ok, 1 failed, 2 bad usage or bad input). Stack traces only with `--debug`.
 */
import { commands } from './commands/index.ts';
import { checkPathHazards, optionPathUses, parseFlags, renderHelp, resolveOptions, type CommandSpec } from './options.ts';
import { InputError, UsageError } from './util/errors.ts';
import { recordedPathBaseFromEnv, withRecordedPaths } from './util/summary.ts';
import { DPREP_VERSION } from './version.ts';
import { writeFileAtomic } from './io/atomic.ts';
import { installSignalCleanup, sweepStaleTemps } from './io/temps.ts';
import { dirname } from 'node:path';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.id.length)) + 2;
  return [
    `dprep ${DPREP_VERSION} — training data for dense passage retrievers`,
    '',
    'Usage: dprep <command> [options]      dprep help <command>',
    '       --debug (any command): print the stack trace of an unexpected error',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.id.split('.').join(' ').padEnd(width)} ${c.summary}`),
  ].join('\n');
}

/** The command whose id matches the longest run of leading words, and the remaining args. */
function lookup(argv: string[]): { cmd: CommandSpec<any>; rest: string[] } | undefined {
  for (let n = Math.min(argv.length, 3); n >= 1; n--) {
    const id = argv.slice(0, n).join('.');
    const cmd = commands.find((c) => c.id === id);
    if (cmd) return { cmd, rest: argv.slice(n) };
  }
  return undefined;
}

const FULL = 'nothing was written under that name and the temp files are removed; free space or write elsewhere, then rerun';

/** What a failed system call says, by errno code, in the user's words (and what to do, where that is not obvious). */
const SYSTEM_ERRORS: Record<string, [problem: string, exit: number, hint?: string]> = {
  ENOENT: ['no such file or directory', 2],
  EISDIR: ['is a directory, a file was expected', 2],
  ENOTDIR: ['a part of the path is a file, not a directory', 2],
  EACCES: ['permission denied', 2],
  EPERM: ['operation not permitted', 2],
  EROFS: ['read-only file system', 2, 'nothing was written; give an output on a writable file system'],
  EEXIST: ['already exists', 2],
  ENOTEMPTY: ['directory not empty', 2],
  ENOSPC: ['no space left on the device', 1, FULL],
  EDQUOT: ['disk quota exceeded', 1, FULL],
  EMFILE: ['too many open files', 1],
};

/** One line for an error the user can act on (a failed system call names its path), or undefined for a bug. */
function describeSystemError(err: unknown): { message: string; exit: number } | undefined {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  // A pipeline step's failure carries the system error as its cause; its own message already names step and path.
  if (typeof e?.code !== 'string' && typeof (e?.cause as NodeJS.ErrnoException)?.code === 'string') {
    const known = SYSTEM_ERRORS[(e.cause as NodeJS.ErrnoException).code!];
    return known && { message: e.message, exit: known[1] };
  }
  const known = typeof e?.code === 'string' ? SYSTEM_ERRORS[e.code] : undefined;
  if (!known) return undefined;
  const where = e.path ? `${e.path}${e.dest ? ` → ${e.dest}` : ''}: ` : '';
  const problem = e.code === 'EEXIST' && e.syscall === 'mkdir' ? 'a file is where a directory is needed' : known[0];
  return { message: `${where}${problem} (${e.code}${e.syscall ? `, ${e.syscall}` : ''})${known[2] ? `; ${known[2]}` : ''}`, exit: known[1] };
}

/** `--debug` anywhere on the line: print stack traces of unexpected errors. */
export async function main(rawArgv: string[]): Promise<number> {
  const debug = rawArgv.includes('--debug');
  const argv = rawArgv.filter((a) => a !== '--debug');
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    console.log(usage());
    return 0;
  }
  if (argv[0] === '--version') {
    console.log(DPREP_VERSION);
    return 0;
  }
  if (argv[0] === 'help') {
    const found = lookup(argv.slice(1));
    console.log(found ? renderHelp(found.cmd) : usage());
    return found || argv.length === 1 ? 0 : 2;
  }
  const found = lookup(argv);
  if (!found) {
    console.error(`dprep: unknown command "${argv.join(' ')}"\n\n${usage()}`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(renderHelp(cmd));
    return 0;
  }
  const name = `dprep ${cmd.id.split('.').join(' ')}`;
  try {
    const { raw, positional } = parseFlags(cmd.options, rest, name);
    const keys = cmd.positional ?? [];
    // A list option in the last positional slot takes all remaining arguments (`dprep validate a.yaml b.yaml`).
    const variadic = keys.length > 0 && cmd.options[keys[keys.length - 1]]?.type === 'list';
    if (positional.length > keys.length && !variadic) throw new UsageError(`${name}: unexpected argument "${positional[keys.length]}"`);
    keys.forEach((key, i) => {
      if (variadic && i === keys.length - 1) {
        if (positional.length > i) raw[key] = positional.slice(i);
      } else if (i < positional.length) raw[key] = positional[i];
    });
    const options = resolveOptions(cmd.options, raw, name);
    checkPathHazards(cmd.options, options, name);
    // Temps a killed earlier run left beside this run's outputs (kill -9 skips every cleanup) go first.
    installSignalCleanup();
    for (const use of optionPathUses(cmd.options, options)) {
      if (use.role !== 'output') continue;
      sweepStaleTemps(dirname(use.path));
      sweepStaleTemps(use.path);
    }
    // A Slurm job running a whole pipeline step gets the step's state dir (checkpoints) and a file for the command's result (metrics).
    const env = process.env;
    // It also gets the step's recorded-path base, so its side files name paths as the step run in process would.
    const runIt = () => cmd.run(options, { log: (m) => process.stderr.write(m + '\n'), ...(env.DPREP_STATE_DIR ? { stateDir: env.DPREP_STATE_DIR } : {}) });
    const base = recordedPathBaseFromEnv(env);
    const result = base ? await withRecordedPaths(base, runIt) : await runIt();
    if (env.DPREP_RESULT_FILE) await writeFileAtomic(env.DPREP_RESULT_FILE, JSON.stringify(result ?? {}) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`dprep: ${err.message}\n(see: dprep help ${cmd.id.split('.').join(' ')})`);
      return 2;
    }
    if (err instanceof InputError) {
      console.error(`dprep: bad input: ${err.message}`);
      return 2;
    }
    const system = describeSystemError(err);
    if (system && !debug) {
      console.error(`dprep: ${name}: ${system.message}`);
      return system.exit;
    }
    if (debug) console.error(`dprep: ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    else console.error(`dprep: ${name} failed: ${err instanceof Error ? err.message : String(err)}\n(unexpected: rerun with --debug for the stack trace, and report it)`);
    return 1;
  }
}
