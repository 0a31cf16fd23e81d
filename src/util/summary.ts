/**
 * Accounts for every input record: converted, or skipped with a named reason. Printed at the
 * end of a run and written as JSON next to the output (`<output>.summary.json`).
 */
import { writeFileAtomic } from '../io/atomic.ts';

export interface SummaryJson {
  source: string;
  inputs: string[];
  read: number;
  converted: number;
  skipped: Record<string, number>;
  /** The first few skipped records per reason, with their location, so users can look. */
  examples: Record<string, string[]>;
  extra: Record<string, number>;
}

/**
 * The per-run account: `read`, `converted`, and `skip(reason, where)` for everything else.
 * @example
 * const summary = new Summary('nq', ['nq-dev.jsonl']);
 * await convertNq('nq-dev.jsonl', { summary, write: async (r) => void records.push(r) });
 * console.log(summary.render());
 */
export class Summary {
  read = 0;
  converted = 0;
  readonly skipped = new Map<string, number>();
  readonly examples = new Map<string, string[]>();
  readonly extra = new Map<string, number>();

  constructor(
    readonly source: string,
    readonly inputs: string[],
  ) {}

  /**
   * The account of a whole input from the accounts of its consecutive parts (work units), in order:
   * counts add up, and each reason keeps the first 5 examples, as one pass over the whole would.
   * @example Summary.merge([unit0.toJSON(), unit1.toJSON()]).toJSON()
   */
  static merge(parts: readonly SummaryJson[]): Summary {
    if (parts.length === 0) throw new Error('Summary.merge: no parts');
    const out = new Summary(parts[0].source, parts[0].inputs);
    for (const p of parts) {
      out.read += p.read;
      out.converted += p.converted;
      for (const [reason, n] of Object.entries(p.skipped)) out.skipped.set(reason, (out.skipped.get(reason) ?? 0) + n);
      for (const [reason, list] of Object.entries(p.examples)) out.examples.set(reason, [...(out.examples.get(reason) ?? []), ...list].slice(0, 5));
      for (const [name, n] of Object.entries(p.extra)) out.count(name, n);
    }
    return out;
  }

  /** Records that a record was skipped; `where` is its location (e.g. "data[3].paragraphs[1].qas[0] id=...") */
  skip(reason: string, where?: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
    if (where !== undefined) {
      const list = this.examples.get(reason) ?? [];
      if (list.length < 5) list.push(where);
      this.examples.set(reason, list);
    }
  }

  /** Counts something that is neither a conversion nor a skip (e.g. "answers deduplicated"). */
  count(name: string, n = 1): void {
    this.extra.set(name, (this.extra.get(name) ?? 0) + n);
  }

  get skippedTotal(): number {
    let n = 0;
    for (const v of this.skipped.values()) n += v;
    return n;
  }

  toJSON(): SummaryJson {
    return {
      source: this.source,
      inputs: this.inputs,
      read: this.read,
      converted: this.converted,
      skipped: Object.fromEntries([...this.skipped].sort()),
      examples: Object.fromEntries([...this.examples].sort()),
      extra: Object.fromEntries([...this.extra].sort()),
    };
  }

  /** Human-readable table: read = converted + every skip reason. */
  render(): string {
    const lines = [`${this.source}: read ${this.read}, converted ${this.converted}, skipped ${this.skippedTotal}`];
    for (const [reason, n] of [...this.skipped].sort()) lines.push(`  skipped ${String(n).padStart(8)}  ${reason}`);
    for (const [name, n] of [...this.extra].sort()) lines.push(`  ${String(n).padStart(16)}  ${name}`);
    return lines.join('\n');
  }

  async write(outputPath: string): Promise<string> {
    const path = `${outputPath}.summary.json`;
    await writeFileAtomic(path, JSON.stringify(this.toJSON(), null, 2) + '\n');
    return path;
  }
}
