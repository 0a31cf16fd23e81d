/**
 * Passage embeddings on disk, in shards, so a corpus larger than memory can be encoded, resumed
 * after a kill, and indexed shard by shard.
 *
 * Layout of `<dir>`:
 *   manifest.json       { format, dim, count, dtype, shardRows, complete, model, corpus,
 *                         shards: [{ file, ids, rows, sha256 }] }
 *   shard-00000.f32     rows × dim little-endian float32, row-major, no header
 *   shard-00000.ids     the rows' passage ids, one JSON string per line
 * Only finished shards are listed in the manifest (each shard is written atomically before the
 * manifest names it), so after a kill the listed shards are kept and encoding resumes after them.
 */
import { createHash } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { parseJsonLine } from './lines.ts';
import { InputError, UsageError } from '../util/errors.ts';

export const EMBEDDINGS_FORMAT = 'dprep-embeddings/1';

export interface EmbeddingShard {
  file: string;
  ids: string;
  rows: number;
  /** sha256 of the .f32 file. */
  sha256: string;
}

export interface EmbeddingsManifest {
  format: typeof EMBEDDINGS_FORMAT;
  dim: number;
  dtype: 'float32';
  /** Rows in all listed shards. */
  count: number;
  shardRows: number;
  /** True once the whole corpus is encoded. */
  complete: boolean;
  /** What produced the vectors (model dir, pooling …): a resume must use the same. */
  model: Record<string, unknown>;
  /** The corpus encoded: a resume must read the same one. */
  corpus: { file: string; bytes: number } | null;
  shards: EmbeddingShard[];
}

const MANIFEST = 'manifest.json';
const shardName = (i: number) => `shard-${String(i).padStart(5, '0')}`;

/**
 * Reads and checks `<dir>/manifest.json`.
 * @example const { dim, count } = await readEmbeddingsManifest('emb/');
 */
export async function readEmbeddingsManifest(dir: string): Promise<EmbeddingsManifest> {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(path, undefined, undefined, `cannot read embeddings manifest (${(err as NodeJS.ErrnoException).code ?? err}); run "dprep encode" first`);
  }
  let m: EmbeddingsManifest;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, undefined, undefined, `invalid JSON (${(err as Error).message})`);
  }
  if (m.format !== EMBEDDINGS_FORMAT) throw new InputError(path, undefined, 'format', `expected "${EMBEDDINGS_FORMAT}", got ${JSON.stringify(m.format)}`);
  if (!Number.isInteger(m.dim) || m.dim <= 0) throw new InputError(path, undefined, 'dim', 'expected a positive integer');
  if (!Array.isArray(m.shards)) throw new InputError(path, undefined, 'shards', 'expected an array');
  const rows = m.shards.reduce((n, s) => n + s.rows, 0);
  if (rows !== m.count) throw new InputError(path, undefined, 'count', `is ${m.count} but the shards hold ${rows} rows`);
  return m;
}

export interface WriterOptions {
  dim: number;
  /** Rows per shard (default 100,000: 300 MB at dim 768). */
  shardRows?: number;
  model?: Record<string, unknown>;
  corpus?: { file: string; bytes: number } | null;
  /** Start over even when a manifest for other inputs exists. */
  overwrite?: boolean;
}

/**
 * Writes embeddings shard by shard; reopening the same directory with the same model and corpus
 * resumes after the last finished shard (`resumedRows` rows are already there).
 * @example
 * const w = await EmbeddingsWriter.open('emb/', { dim: 768, model: { dir: 'runs/s1' } });
 * // skip w.resumedRows passages, then:
 * await w.add(['p1', 'p2'], vectors);
 * await w.finish();
 */
export class EmbeddingsWriter {
  private pendingIds: string[] = [];
  private pending: Float32Array;
  private pendingRows = 0;

  private constructor(
    readonly dir: string,
    private readonly manifest: EmbeddingsManifest,
  ) {
    this.pending = new Float32Array(manifest.shardRows * manifest.dim);
  }

  /** Rows kept from an earlier, interrupted run. */
  get resumedRows(): number {
    return this.resumed;
  }
  private resumed = 0;

  /** The last passage id of the kept shards, to check that the corpus still lines up. */
  lastResumedId?: string;

  get complete(): boolean {
    return this.manifest.complete;
  }

  static async open(dir: string, opts: WriterOptions): Promise<EmbeddingsWriter> {
    const fresh: EmbeddingsManifest = {
      format: EMBEDDINGS_FORMAT,
      dim: opts.dim,
      dtype: 'float32',
      count: 0,
      shardRows: opts.shardRows ?? 100_000,
      complete: false,
      model: opts.model ?? {},
      corpus: opts.corpus ?? null,
      shards: [],
    };
    let old: EmbeddingsManifest | undefined;
    const hasManifest = await stat(join(dir, MANIFEST)).then(() => true, () => false);
    if (hasManifest) {
      try {
        old = await readEmbeddingsManifest(dir);
      } catch (err) {
        // A damaged manifest is only replaced when the user asked to start over.
        if (!opts.overwrite) throw err;
      }
    }
    if (old && !opts.overwrite) {
      const same =
        old.dim === fresh.dim &&
        old.shardRows === fresh.shardRows &&
        JSON.stringify(old.model) === JSON.stringify(fresh.model) &&
        JSON.stringify(old.corpus) === JSON.stringify(fresh.corpus);
      if (!same) {
        throw new UsageError(
          `${dir} holds embeddings of another model, corpus, dim or shard size (manifest: dim ${old.dim}, model ${JSON.stringify(old.model)}, corpus ${JSON.stringify(old.corpus)}); use another --out or --overwrite`,
        );
      }
      const writer = new EmbeddingsWriter(dir, old);
      await writer.checkShards();
      writer.resumed = old.count;
      if (old.shards.length > 0) writer.lastResumedId = await lastId(join(dir, old.shards[old.shards.length - 1].ids));
      return writer;
    }
    if (old) for (const s of old.shards) await Promise.all([rm(join(dir, s.file), { force: true }), rm(join(dir, s.ids), { force: true })]);
    await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(fresh, null, 2) + '\n');
    return new EmbeddingsWriter(dir, fresh);
  }

  // A listed shard with the wrong size means the directory was tampered with: stop, don't guess.
  private async checkShards(): Promise<void> {
    for (const s of this.manifest.shards) {
      const path = join(this.dir, s.file);
      const size = await stat(path).then((st) => st.size, () => -1);
      if (size !== s.rows * this.manifest.dim * 4) {
        throw new InputError(path, undefined, undefined, `expected ${s.rows * this.manifest.dim * 4} bytes (${s.rows} rows × ${this.manifest.dim} × 4), found ${size < 0 ? 'no file' : size}; re-encode with --overwrite`);
      }
    }
  }

  /** Appends rows (`ids.length` × dim floats); full shards are written as they fill. */
  async add(ids: readonly string[], vectors: Float32Array): Promise<void> {
    const { dim, shardRows } = this.manifest;
    if (this.manifest.complete) throw new Error('EmbeddingsWriter.add: the embeddings are already complete');
    if (vectors.length !== ids.length * dim) throw new Error(`EmbeddingsWriter.add: ${ids.length} ids but ${vectors.length / dim} vectors of dim ${dim}`);
    let done = 0;
    while (done < ids.length) {
      const take = Math.min(shardRows - this.pendingRows, ids.length - done);
      this.pending.set(vectors.subarray(done * dim, (done + take) * dim), this.pendingRows * dim);
      for (let i = done; i < done + take; i++) this.pendingIds.push(ids[i]);
      this.pendingRows += take;
      done += take;
      if (this.pendingRows === shardRows) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.pendingRows === 0) return;
    const { dim } = this.manifest;
    const index = this.manifest.shards.length;
    const name = shardName(index);
    const bytes = new Uint8Array(this.pending.buffer, 0, this.pendingRows * dim * 4);
    // Shard files first, manifest last: a kill in between leaves an unlisted shard, rewritten on resume.
    await writeFileAtomic(join(this.dir, `${name}.f32`), bytes);
    await writeFileAtomic(join(this.dir, `${name}.ids`), this.pendingIds.map((id) => JSON.stringify(id)).join('\n') + '\n');
    this.manifest.shards.push({ file: `${name}.f32`, ids: `${name}.ids`, rows: this.pendingRows, sha256: createHash('sha256').update(bytes).digest('hex') });
    this.manifest.count += this.pendingRows;
    await writeFileAtomic(join(this.dir, MANIFEST), JSON.stringify(this.manifest, null, 2) + '\n');
    this.pendingRows = 0;
    this.pendingIds = [];
  }

  /** Writes the last partial shard and marks the embeddings complete. */
  async finish(): Promise<EmbeddingsManifest> {
    await this.flush();
    this.manifest.complete = true;
    await writeFileAtomic(join(this.dir, MANIFEST), JSON.stringify(this.manifest, null, 2) + '\n');
    return this.manifest;
  }
}

async function lastId(idsFile: string): Promise<string | undefined> {
  const lines = (await readFile(idsFile, 'utf8')).split('\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.length ? (parseJsonLine(lines[lines.length - 1], idsFile, lines.length) as string) : undefined;
}

/** One shard read back: its first row's global index, ids, and vectors. */
export interface LoadedShard {
  rowOffset: number;
  ids: string[];
  vectors: Float32Array;
}

/**
 * Streams the shards of an embeddings directory, checking each shard's size and sha256.
 * @example for await (const shard of readEmbeddingShards('emb/')) index.add(shard.vectors);
 */
export async function* readEmbeddingShards(dir: string, opts: { verify?: boolean; requireComplete?: boolean } = {}): AsyncGenerator<LoadedShard> {
  const m = await readEmbeddingsManifest(dir);
  if (opts.requireComplete !== false && !m.complete) {
    throw new InputError(join(dir, MANIFEST), undefined, 'complete', `embeddings are incomplete (${m.count} rows so far); finish them with "dprep encode" (it resumes)`);
  }
  let rowOffset = 0;
  for (const s of m.shards) {
    const path = join(dir, s.file);
    const buf = await readFile(path);
    if (buf.length !== s.rows * m.dim * 4) throw new InputError(path, undefined, undefined, `expected ${s.rows * m.dim * 4} bytes, found ${buf.length}`);
    if (opts.verify !== false) {
      const sha = createHash('sha256').update(buf).digest('hex');
      if (sha !== s.sha256) throw new InputError(path, undefined, undefined, `sha256 ${sha} does not match the manifest (${s.sha256}): the shard is damaged`);
    }
    const idsPath = join(dir, s.ids);
    // Numbered before blank lines are dropped, so an error names the file's own line.
    const ids = (await readFile(idsPath, 'utf8')).split('\n').flatMap((l, i) => (l === '' ? [] : [String(parseJsonLine(l, idsPath, i + 1))]));
    if (ids.length !== s.rows) throw new InputError(idsPath, undefined, undefined, `expected ${s.rows} ids, found ${ids.length}`);
    // Copy into an aligned Float32Array (a Buffer's offset need not be a multiple of 4).
    const vectors = new Float32Array(s.rows * m.dim);
    new Uint8Array(vectors.buffer).set(buf);
    yield { rowOffset, ids, vectors };
    rowOffset += s.rows;
  }
}
