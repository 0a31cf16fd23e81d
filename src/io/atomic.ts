/**
 * Atomic outputs: write to a temp file beside the target, then rename over it. A killed or
 * failed run never leaves a half-written file under the final name.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import { UsageError } from '../util/errors.ts';

/** Temp path next to `target` (same directory, so rename is atomic on the same filesystem). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/** Writes a whole file atomically. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    await writeFile(tmp, data);
    await fsyncPath(tmp);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * A streamed output file that appears under its final name only on `commit()`.
 * Writes respect backpressure; `abort()` removes the temp file.
 *
 * @example
 * const out = await AtomicFile.create('out.jsonl');
 * await out.write('{"a":1}\n');
 * await out.commit();
 */
export class AtomicFile {
  /** The first write error (disk full, ...): later writes and commit() throw it instead of crashing the process. */
  private error: Error | undefined;

  private constructor(
    readonly target: string,
    readonly tempPath: string,
    private readonly stream: WriteStream,
  ) {
    stream.on('error', (err) => (this.error ??= err));
  }

  static async create(target: string): Promise<AtomicFile> {
    await mkdir(dirname(target), { recursive: true });
    const tmp = tempPathFor(target);
    const stream = createWriteStream(tmp, { highWaterMark: 1 << 20 });
    await once(stream, 'open');
    return new AtomicFile(target, tmp, stream);
  }

  /** Writes a chunk; resolves once the stream can take more (backpressure). */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async commit(): Promise<void> {
    if (this.error) throw this.error;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await fsyncPath(this.tempPath);
    await rename(this.tempPath, this.target);
  }

  async abort(): Promise<void> {
    // Buffered writes fail with ERR_STREAM_DESTROYED once destroyed; the error listener above takes them.
    if (!this.stream.closed) {
      const closed = new Promise<void>((resolve) => this.stream.once('close', () => resolve())); // not once(): it rejects on 'error'
      this.stream.destroy();
      await closed;
    }
    await rm(this.tempPath, { force: true });
  }
}

/**
 * Puts the finished directory `tmp` (or file) at `target`, replacing what is there. The old
 * target is renamed aside first and deleted only after the new one is in place, so at every
 * moment `target` is either the complete old or the complete new version, never missing.
 * `aside` is where the old one waits (default: beside the target).
 * @example await replaceDir('.model.tmp-12-ab', 'runs/stage1/query_encoder');
 */
export async function replaceDir(tmp: string, target: string, aside = `${target}.old-${process.pid}-${Math.random().toString(36).slice(2, 8)}`): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const existing = await stat(target).catch(() => undefined);
  if (!existing) {
    await rename(tmp, target);
    return;
  }
  await mkdir(dirname(aside), { recursive: true });
  await rename(target, aside);
  try {
    await rename(tmp, target);
  } catch (err) {
    await rename(aside, target).catch(() => undefined);
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
}

/**
 * Refuses to replace `dir` unless it is absent, empty, or `ours` recognizes it as a directory
 * dprep made for this very purpose (a BM25 index's header, init-model's marker): an output
 * directory given by mistake (the corpus's folder, a project, a trained model) is never deleted.
 * `option` and `made` name the flag and what dprep makes there, for the message.
 * @example await checkReplaceableDir(opts.out, '--out', 'BM25 index', (d) => existsSync(join(d, 'header.json')));
 */
export async function checkReplaceableDir(dir: string, option: string, made: string, ours: (dir: string) => boolean | Promise<boolean>): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (!s) return;
  if (!s.isDirectory()) throw new UsageError(`${option} ${dir}: is a file, not a directory; give a new or empty directory for the ${made}`);
  const entries = await readdir(dir);
  if (entries.length === 0 || (await ours(dir))) return;
  const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, … (${entries.length} entries)` : '');
  throw new UsageError(`${option} ${dir}: holds ${shown}, which is not a ${made} dprep made; refusing to replace it (give a new or empty directory, or remove it yourself)`);
}
