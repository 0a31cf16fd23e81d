/**
 * Progress on stderr: a redrawn bar on a TTY, a plain line every few seconds otherwise
 * (CI logs, pipes). Silent when DPREP_QUIET=1.
 */
export interface ProgressOptions {
  /** Total units (bytes, records, steps); unknown totals show counts and rate only. */
  total?: number;
  /** Unit name shown after counts, e.g. "records" or "B" (bytes are shown in MB). */
  unit?: string;
  /** Seconds between plain lines when not on a TTY. */
  intervalSeconds?: number;
}

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly quiet = process.env.DPREP_QUIET === '1';
  private extra = '';

  constructor(
    private readonly label: string,
    private readonly options: ProgressOptions = {},
  ) {}

  /** Adds `n` units done; `note` (e.g. "loss 0.41") is shown after the counts. */
  tick(n = 1, note?: string): void {
    this.done += n;
    if (note !== undefined) this.extra = note;
    const now = Date.now();
    const interval = this.tty ? 100 : (this.options.intervalSeconds ?? 5) * 1000;
    if (now - this.lastDraw >= interval) {
      this.lastDraw = now;
      this.draw(false);
    }
  }

  /** Sets the absolute count (for sources that report positions). */
  update(done: number, note?: string): void {
    this.tick(done - this.done, note);
  }

  finish(note?: string): void {
    if (note !== undefined) this.extra = note;
    this.draw(true);
  }

  private draw(final: boolean): void {
    if (this.quiet) return;
    const secs = Math.max((Date.now() - this.start) / 1000, 1e-3);
    const { total, unit = '' } = this.options;
    const fmt = (v: number) => (unit === 'B' ? `${(v / 1e6).toFixed(1)} MB` : `${Math.round(v)}${unit ? ' ' + unit : ''}`);
    const rate = unit === 'B' ? `${(this.done / 1e6 / secs).toFixed(1)} MB/s` : `${(this.done / secs).toFixed(1)}/s`;
    let line = `${this.label} ${fmt(this.done)}`;
    if (total) {
      const frac = Math.min(this.done / total, 1);
      const width = 24;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      const eta = frac > 0 ? Math.round((secs / frac) * (1 - frac)) : 0;
      line = `${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(this.done)}/${fmt(total)} ${rate}` + (final ? ` ${secs.toFixed(1)}s` : ` eta ${eta}s`);
    } else line += ` ${rate}` + (final ? ` ${secs.toFixed(1)}s` : '');
    if (this.extra) line += ` ${this.extra}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  }
}
