/**
 * Results consumed in submission order while later ones are still being computed: the window
 * holds at most `limit` pending results; pushing one more waits for the oldest and consumes it.
 * Outputs are therefore in input order whatever finishes first, with bounded memory.
 */
export class OrderedWindow<R, M> {
  private readonly queue: { result: Promise<R>; meta: M }[] = [];

  /**
   * @example
   * const window = new OrderedWindow<Res[], string[]>(2 * threads, (results, qids) => write(qids, results));
   * await window.push(pool.run(jobs), qids); ... await window.drain();
   */
  constructor(
    private readonly limit: number,
    private readonly consume: (result: R, meta: M) => unknown,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  /** Adds a pending result (with what the consumer needs to place it). */
  async push(result: Promise<R>, meta: M): Promise<void> {
    // Awaited in order below; this only keeps a failure from being reported as unhandled meanwhile.
    result.catch(() => {});
    this.queue.push({ result, meta });
    while (this.queue.length > this.limit) await this.shift();
  }

  /** Consumes everything still pending, in order. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.shift();
  }

  private async shift(): Promise<void> {
    const { result, meta } = this.queue.shift()!;
    await this.consume(await result, meta);
  }
}
