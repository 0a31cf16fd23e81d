/**
 * Shared memory through which data-parallel trainer replicas (worker threads) swap their shards'
 * embeddings in the middle of a forward pass. A replica cannot leave tfjs's gradient tape to await
 * a message, so the swap is synchronous: each replica writes its rows, bumps an arrival counter and
 * blocks (Atomics.wait) until every replica has arrived. A replica that fails sets the abort word,
 * which wakes the others with an error instead of leaving them blocked.
 *
 * Layout of the SharedArrayBuffer: Int32 [arrived, aborted, 0, 0] then `rows × dim` float32.
 */
const HEADER_BYTES = 16;

export class EmbeddingExchange {
  private readonly ctrl: Int32Array;
  private readonly data: Float32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    /** Rows of the whole batch: questions then passages. */
    readonly rows: number,
    readonly dim: number,
    /** Replicas that must arrive. */
    readonly parties: number,
    /** How long a replica waits for the others before giving up. */
    private readonly timeoutMs = 30 * 60_000,
  ) {
    this.ctrl = new Int32Array(buffer, 0, 4);
    this.data = new Float32Array(buffer, HEADER_BYTES, rows * dim);
  }

  /** A zeroed exchange for one step. */
  static create(rows: number, dim: number, parties: number, timeoutMs?: number): EmbeddingExchange {
    return new EmbeddingExchange(new SharedArrayBuffer(HEADER_BYTES + 4 * rows * dim), rows, dim, parties, timeoutMs);
  }

  /** Writes `values` (whole rows) starting at row `row`. */
  publish(row: number, values: Float32Array): void {
    if (values.length % this.dim !== 0 || row * this.dim + values.length > this.data.length) {
      throw new Error(`embedding exchange: ${values.length / this.dim} rows at row ${row} do not fit ${this.rows} rows of ${this.dim}`);
    }
    this.data.set(values, row * this.dim);
  }

  /** Copies `count` rows from row `row` (a plain array, safe to hand to tfjs). */
  rowsOf(row: number, count: number): Float32Array {
    return this.data.slice(row * this.dim, (row + count) * this.dim);
  }

  /** Marks this replica's rows written and blocks until all replicas have, or one aborted. */
  arriveAndWait(): void {
    Atomics.add(this.ctrl, 0, 1);
    Atomics.notify(this.ctrl, 0);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      if (Atomics.load(this.ctrl, 1) !== 0) throw new Error('embedding exchange: another trainer replica failed');
      const arrived = Atomics.load(this.ctrl, 0);
      if (arrived >= this.parties) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`embedding exchange: only ${arrived} of ${this.parties} trainer replicas arrived within ${this.timeoutMs} ms`);
      Atomics.wait(this.ctrl, 0, arrived, Math.min(left, 1000));
    }
  }

  /** Wakes every waiting replica with an error. */
  abort(): void {
    Atomics.store(this.ctrl, 1, 1);
    Atomics.notify(this.ctrl, 0);
  }
}
