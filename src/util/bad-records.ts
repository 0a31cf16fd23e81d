/**
 * `--skip-bad`: a bad record (invalid JSON or UTF-8, a wrong field, a TSV row with the wrong
 * column count, a truncated last element) stops a command by default, naming file, record and
 * field; with --skip-bad it is left out and counted by reason, with the first few locations,
 * in the command's summary. Never dropped silently.
 */
import type { OnBadRecord } from '../io/lines.ts';
import type { InputError } from './errors.ts';
import type { Summary } from './summary.ts';

/** The option, spread into the options of a command that reads records or passages. */
export const SKIP_BAD_OPTION = {
  skipBad: {
    type: 'boolean',
    help: 'leave out bad records (invalid JSON or UTF-8, wrong fields, wrong TSV column count, a truncated last record), counted by reason in the summary, instead of stopping at the first',
  },
} as const;

/** The reason a bad record is counted under: its field and problem, without the specifics (`invalid JSON`, `field "text": expected a string`). */
export function badReason(err: InputError): string {
  const problem = err.problem.replace(/;.*$/s, '').replace(/, got .*$/s, '').replace(/\s*\([^()]*\)$/, '');
  return `bad record: ${err.field !== undefined ? `field "${err.field}": ` : ''}${problem}`;
}

/**
 * The account of bad records left out under --skip-bad; `onBad` is undefined without it, so the
 * readers stop at the first. A `summary`, when given, counts them among its skips.
 * @example const bad = new BadRecords(opts.skipBad, summary); for await (const r of readDprRecords(f, { onBad: bad.onBad })) ...
 */
export class BadRecords {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, string[]>();
  readonly onBad: OnBadRecord | undefined;

  constructor(skip: boolean | undefined, summary?: Summary) {
    this.onBad = skip
      ? (err) => {
          const reason = badReason(err);
          const where = `${err.file}${err.record ? `, ${err.record}` : ''}`;
          this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
          const list = this.examples.get(reason) ?? [];
          if (list.length < 5) list.push(where);
          this.examples.set(reason, list);
          if (summary) {
            summary.read++;
            summary.skip(reason, where);
          }
        }
      : undefined;
  }

  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** One line per reason: count, reason, first locations. */
  render(what = 'records'): string {
    if (this.total === 0) return `no bad ${what}`;
    const lines = [`skipped ${this.total} bad ${what} (--skip-bad):`];
    for (const [reason, n] of [...this.counts].sort()) lines.push(`  ${String(n).padStart(8)}  ${reason} (e.g. ${this.examples.get(reason)!.join('; ')})`);
    return lines.join('\n');
  }

  toJSON(): { skipped: Record<string, number>; examples: Record<string, string[]> } {
    return { skipped: Object.fromEntries([...this.counts].sort()), examples: Object.fromEntries([...this.examples].sort()) };
  }
}
