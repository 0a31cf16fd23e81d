/**
 * Passage embeddings on disk, in shards, so a corpus larger than memory can be encoded, resumed
 * after a kill, and indexed shard by shard.
 *
 * Layout of `<dir>`:
 *   manifest.json       { format, dim, count, dtype, shardRows, complete, model, corpus,
 *                         shards: [{ file, ids, rows, bytes, sha256, idsBytes, idsSha256 }] }
 *   shard-00000.f32     rows × dim little-endian float32, row-major, no header
 *   shard-00000.ids     the rows' passage ids, one JSON string per line
 * Only finished shards are listed in the manifest (each shard is written atomically before the
 * manifest names it), so after a kill the listed shards are kept and encoding resumes after them.
 *
 * Integrity: every file a shard uses is in the manifest with its size and sha256. Sizes are
 * checked on every open, before anything is read; readers hash both files of each shard as they
 * read it, and a resume hashes the kept shards first. Vectors must be finite (checked on write
 * and on read, naming the shard and row). The manifest names the model and the corpus by
 * content (`model.sha256` over the encoder's files, `corpus.sha256` of the corpus file) and holds
 * no absolute path, so readers can check that `--corpus`/`--model` are the ones encoded.
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { parseJsonLine } from './lines.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { changedFiles, sha256File } from './content-hash.ts';
import { sha256Bytes } from '../util/sha256.ts';

export const EMBEDDINGS_FORMAT = 'dprep-embeddings/1';

export interface EmbeddingShard {
  file: string;
  ids: string;
  rows: number;
  /** Size and sha256 of the .f32 file. */
  bytes: number;
  sha256: string;
  /** Size and sha256 of the .ids file. */
  idsBytes: number;
  idsSha256: string;
}

/** The corpus encoded, by content: a resume and every reader must use the same one. */
export interface EmbeddingsCorpus {
  /** The corpus's file name (no directory: the manifest holds no machine-specific path). */
  file: string;
  bytes: number;
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
  /** What produced the vectors (the encoder's content hash `sha256` and its `files`, pooling …): a resume must use the same. */
  model: Record<string, unknown>;
  /** The corpus encoded (null: not recorded, e.g. a library caller's stream). */
  corpus: EmbeddingsCorpus | null;
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
  for (const [i, sh] of m.shards.entries()) {
    const where = `shards[${i}]`;
    for (const key of ['file', 'ids'] as const) {
      // Plain file names in the dir: a manifest cannot point a reader at another file.
      if (typeof sh?.[key] !== 'string' || !/^[A-Za-z0-9._-]+$/.test(sh[key]) || sh[key].startsWith('.')) throw new InputError(path, where, key, `expected a file name in ${dir}, got ${JSON.stringify(sh?.[key])}`);
    }
    for (const key of ['rows', 'bytes', 'idsBytes'] as const) {
      if (!Number.isInteger(sh[key]) || sh[key] < 0) throw new InputError(path, where, key, `expected a non-negative integer, got ${JSON.stringify(sh[key])}${sh[key] === undefined ? ': made by an older dprep that did not record it; re-encode with "dprep encode --overwrite"' : ''}`);
    }
    for (const key of ['sha256', 'idsSha256'] as const) {
      if (typeof sh[key] !== 'string' || !/^[0-9a-f]{64}$/.test(sh[key])) throw new InputError(path, where, key, `expected a sha256 hex digest, got ${JSON.stringify(sh[key])}${sh[key] === undefined ? ': made by an older dprep that did not record it; re-encode with "dprep encode --overwrite"' : ''}`);
    }
    if (sh.bytes !== sh.rows * m.dim * 4) throw new InputError(path, where, 'bytes', `is ${sh.bytes} but ${sh.rows} rows × dim ${m.dim} × 4 is ${sh.rows * m.dim * 4}`);
  }
  const rows = m.shards.reduce((n, s) => n + s.rows, 0);
  if (rows !== m.count) throw new InputError(path, undefined, 'count', `is ${m.count} but the shards hold ${rows} rows`);
  return m;
}

export interface WriterOptions {
  dim: number;
  /** Rows per shard (default 100,000: 300 MB at dim 768). */
  shardRows?: number;
  model?: Record<string, unknown>;
  corpus?: EmbeddingsCorpus | null;
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

  /** Rows per shard file (the kept manifest's on a resume). */
  get shardRows(): number {
    return this.manifest.shardRows;
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
      const differences = manifestDifferences(old, fresh);
      if (differences.length) {
        throw new UsageError(`${dir} holds embeddings of another ${differences.join('; ')}; rerun with --overwrite to encode again, or use another --out`);
      }
      const writer = new EmbeddingsWriter(dir, old);
      // A resume builds on the kept shards: hash them all first.
      await checkShardFiles(dir, old, { hash: true });
      writer.resumed = old.count;
      if (old.shards.length > 0) writer.lastResumedId = await lastId(join(dir, old.shards[old.shards.length - 1].ids));
      return writer;
    }
    if (old) for (const s of old.shards) await Promise.all([rm(join(dir, s.file), { force: true }), rm(join(dir, s.ids), { force: true })]);
    await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(fresh, null, 2) + '\n');
    return new EmbeddingsWriter(dir, fresh);
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
    const ids = Buffer.from(this.pendingIds.map((id) => JSON.stringify(id)).join('\n') + '\n', 'utf8');
    await writeFileAtomic(join(this.dir, `${name}.f32`), bytes);
    await writeFileAtomic(join(this.dir, `${name}.ids`), ids);
    this.manifest.shards.push({
      file: `${name}.f32`, ids: `${name}.ids`, rows: this.pendingRows,
      bytes: bytes.length, sha256: sha256Bytes(bytes), idsBytes: ids.length, idsSha256: sha256Bytes(ids),
    });
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

/** What differs between a kept manifest and the one this run would write, in words (empty: a resume). */
function manifestDifferences(old: EmbeddingsManifest, fresh: EmbeddingsManifest): string[] {
  const out: string[] = [];
  const om = old.model;
  const fm = fresh.model;
  if (typeof om.sha256 === 'string' && typeof fm.sha256 === 'string' && om.sha256 !== fm.sha256) {
    const changed = isFileMap(om.files) && isFileMap(fm.files) ? changedFiles(om.files, fm.files) : [];
    out.push(`model: the encoder's files changed since they were made${changed.length ? ` (${changed.join(', ')})` : ''}`);
  }
  const { sha256: _o, files: _of, ...oSettings } = om;
  const { sha256: _f, files: _ff, ...fSettings } = fm;
  if (JSON.stringify(oSettings) !== JSON.stringify(fSettings)) out.push(`model setting (manifest: ${JSON.stringify(oSettings)}, now: ${JSON.stringify(fSettings)})`);
  // By content: the same corpus under another name or in another workdir is the same input.
  if (old.corpus?.sha256 !== fresh.corpus?.sha256 || old.corpus?.bytes !== fresh.corpus?.bytes) {
    const was = old.corpus ? `${old.corpus.file}, ${old.corpus.bytes} bytes, sha256 ${old.corpus.sha256}` : 'none recorded';
    const now = fresh.corpus ? `${fresh.corpus.file}, ${fresh.corpus.bytes} bytes, sha256 ${fresh.corpus.sha256}` : 'none';
    out.push(`corpus (manifest: ${was}; now: ${now})`);
  }
  if (old.dim !== fresh.dim) out.push(`dim (manifest: ${old.dim}, now: ${fresh.dim})`);
  if (old.shardRows !== fresh.shardRows) out.push(`shard size (manifest: ${old.shardRows} rows, now: ${fresh.shardRows})`);
  return out;
}

const isFileMap = (x: unknown): x is Record<string, string> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Checks the files of every listed shard against the manifest: sizes always (before anything is
 * read), sha256 too with `hash`. A mismatch names the file and says how to recover.
 */
export async function checkShardFiles(dir: string, m: EmbeddingsManifest, opts: { hash?: boolean } = {}): Promise<void> {
  for (const s of m.shards) {
    for (const [name, bytes, digest] of [[s.file, s.bytes, s.sha256], [s.ids, s.idsBytes, s.idsSha256]] as const) {
      const path = join(dir, name);
      const size = await stat(path).then((st) => st.size, () => -1);
      if (size !== bytes) throw new InputError(path, undefined, undefined, `expected ${bytes} bytes as manifest.json says, found ${size < 0 ? 'no file' : size}: the embeddings are damaged; ${RECOVER}`);
      if (opts.hash) {
        const got = sha256Bytes(await readFile(path));
        if (got !== digest) throw new InputError(path, undefined, undefined, `sha256 ${got} does not match manifest.json (${digest}): the file is damaged; ${RECOVER}`);
      }
    }
  }
}

const RECOVER = 're-encode with "dprep encode --overwrite" (or delete the directory)';

/** What a reader expects the embeddings to be made from: a corpus file, a passage encoder's content hash. */
export interface EmbeddingsSource {
  corpus?: string;
  model?: { dir: string; sha256: string; files: Record<string, string> };
}

/**
 * Refuses embeddings that were made from another corpus or passage encoder than the caller's:
 * compares the manifest's content hashes with `corpus` (a file) and `model` (the encoder's hash).
 * Nothing recorded on one side: nothing to compare.
 */
export async function checkEmbeddingsSource(dir: string, expect: EmbeddingsSource): Promise<void> {
  const m = await readEmbeddingsManifest(dir);
  const path = join(dir, MANIFEST);
  if (expect.corpus !== undefined && m.corpus?.sha256) {
    const { sha256: got, bytes } = await sha256File(expect.corpus);
    if (got !== m.corpus.sha256) {
      throw new UsageError(`${path}: these embeddings were made from another corpus (${m.corpus.file}, ${m.corpus.bytes} bytes, sha256 ${m.corpus.sha256}) than --corpus ${expect.corpus} (${bytes} bytes, sha256 ${got}); pass the corpus they were made from, or re-encode it with "dprep encode"`);
    }
  }
  if (expect.model && typeof m.model.sha256 === 'string' && m.model.sha256 !== expect.model.sha256) {
    const changed = isFileMap(m.model.files) ? changedFiles(m.model.files, expect.model.files) : [];
    throw new UsageError(`${path}: these embeddings were made with another passage encoder than ${expect.model.dir}${changed.length ? ` (files that differ: ${changed.join(', ')})` : ''}; pass the model they were made with, or re-encode with "dprep encode --model ${expect.model.dir} --overwrite"`);
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
 * Each shard's bytes are read straight into the returned vectors (no second copy), so a reader
 * holds one shard at a time; with `shared` the vectors live in a SharedArrayBuffer, ready for
 * the exact search's worker threads without another copy.
 * @example for await (const shard of readEmbeddingShards('emb/')) index.add(shard.vectors);
 */
export async function* readEmbeddingShards(dir: string, opts: { requireComplete?: boolean; shared?: boolean } = {}): AsyncGenerator<LoadedShard> {
  const m = await readEmbeddingsManifest(dir);
  if (opts.requireComplete !== false && !m.complete) {
    throw new InputError(join(dir, MANIFEST), undefined, 'complete', `embeddings are incomplete (${m.count} rows so far); finish them with "dprep encode" (it resumes)`);
  }
  // Sizes of every file first: a truncated last shard stops the reader before any work.
  await checkShardFiles(dir, m);
  let rowOffset = 0;
  for (const s of m.shards) {
    const path = join(dir, s.file);
    // An aligned Float32Array filled from the file (a Buffer's offset need not be a multiple of 4).
    const vectors = new Float32Array(opts.shared ? new SharedArrayBuffer(s.bytes) : new ArrayBuffer(s.bytes));
    const bytes = new Uint8Array(vectors.buffer);
    const got = await readInto(path, bytes);
    if (got !== s.bytes) throw new InputError(path, undefined, undefined, `expected ${s.bytes} bytes, found ${got}: the file changed while it was read; ${RECOVER}`);
    // Each file is read whole anyway: its hash costs little beside that.
    const sha = sha256Bytes(bytes);
    if (sha !== s.sha256) throw new InputError(path, undefined, undefined, `sha256 ${sha} does not match manifest.json (${s.sha256}): the shard is damaged; ${RECOVER}`);
    const ids = await readShardIds(dir, s);
    const bad = firstNonFinite(vectors);
    if (bad >= 0) {
      const row = Math.floor(bad / m.dim);
      throw new InputError(path, `row ${row} (passage "${ids[row]}")`, undefined, `dim ${bad % m.dim} is ${vectors[bad]}: non-finite vectors cannot be searched; the encoder that made them is broken (check its weights), then re-encode with "dprep encode --overwrite"`);
    }
    yield { rowOffset, ids, vectors };
    rowOffset += s.rows;
  }
}

/**
 * Streams only the ids of each shard (each .ids file checked against its sha256), without the vectors.
 * @example for await (const { rowOffset, ids } of readEmbeddingIdShards('emb/')) console.log(rowOffset, ids.length);
 */
export async function* readEmbeddingIdShards(dir: string): AsyncGenerator<{ rowOffset: number; ids: string[] }> {
  const m = await readEmbeddingsManifest(dir);
  await checkShardFiles(dir, m);
  let rowOffset = 0;
  for (const s of m.shards) {
    const ids = await readShardIds(dir, s);
    yield { rowOffset, ids };
    rowOffset += s.rows;
  }
}

/** One shard's `.ids` lines, checked against the manifest's sha256 and row count. */
async function readShardIds(dir: string, s: EmbeddingShard): Promise<string[]> {
  const idsPath = join(dir, s.ids);
  const idsBuf = await readFile(idsPath);
  const idsSha = sha256Bytes(idsBuf);
  if (idsSha !== s.idsSha256) throw new InputError(idsPath, undefined, undefined, `sha256 ${idsSha} does not match manifest.json (${s.idsSha256}): the ids are damaged or reordered; ${RECOVER}`);
  // Numbered before blank lines are dropped, so an error names the file's own line.
  const ids = idsBuf.toString('utf8').split('\n').flatMap((l, i) => (l === '' ? [] : [String(parseJsonLine(l, idsPath, i + 1))]));
  if (ids.length !== s.rows) throw new InputError(idsPath, undefined, undefined, `expected ${s.rows} ids, found ${ids.length}; ${RECOVER}`);
  return ids;
}

/** Reads a file into `into` (up to its length) and returns the file's size, which may differ. */
async function readInto(path: string, into: Uint8Array): Promise<number> {
  const fh = await open(path, 'r');
  try {
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await fh.read(into, done, into.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done < into.length ? done : (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/** Index of the first NaN or ±Infinity, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}
