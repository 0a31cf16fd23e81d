/**
 * Atomic outputs: write to a temp file beside the target, then rename over it. A killed or
 * failed run never leaves a half-written file under the final name.
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { once } from 'node:events';
import { UsageError } from '../util/errors.ts';
import { asidePathFor, forgetTemp, registerTemp, tempPathFor } from './temps.ts';

export { tempPathFor } from './temps.ts';

/**
 * A failed system call on a temp names the output the user asked for instead (`out.jsonl: no
 * space left on the device`), not `.out.jsonl.tmp-…`, nor nothing (a stream's write error
 * carries no path). Other errors pass unchanged.
 */
export function namingTarget(err: unknown, target: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && (e.path === undefined || /\.(tmp|old)-\d+/.test(e.path))) {
    e.path = target;
    delete (e as { dest?: string }).dest;
  }
  return err;
}

/**
 * Test hook, so full disks and read-only directories are tested without root:
 * DPREP_TEST_WRITE_FAULT=ENOSPC@N fails the write that takes this process's atomic writes past
 * N bytes, DPREP_TEST_WRITE_FAULT=EROFS fails every atomic file's creation, as the kernel would.
 * Writers of files inside a temp directory (the BM25 index builder) call it too.
 */
const FAULT = /^(ENOSPC|EROFS|EDQUOT|EIO)(?:@(\d+))?$/.exec(process.env.DPREP_TEST_WRITE_FAULT ?? '');
let faultBytes = 0;
const ERRNO: Record<string, number> = { ENOSPC: -28, EROFS: -30, EDQUOT: -122, EIO: -5 };
export function injectedFault(path: string, syscall: 'open' | 'write', bytes: number): void {
  if (!FAULT) return;
  const [, code, after] = FAULT;
  const hit = after === undefined ? syscall === 'open' : syscall === 'write' && (faultBytes += bytes) > Number(after);
  if (hit) throw Object.assign(new Error(`${code}: injected by DPREP_TEST_WRITE_FAULT, ${syscall} '${path}'`), { code, errno: ERRNO[code], syscall, path });
}

/**
 * `mkdir -p` that reports why it failed: Node's recursive mkdir says ENOENT on a read-only file
 * system (and on some other refusals); making the first missing directory alone gives the real code.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let first = resolve(dir);
    while (!existsSync(dirname(first)) && dirname(first) !== first) first = dirname(first);
    await mkdir(first); // throws the real error (EROFS, EACCES, ENOTDIR …)
    throw err;
  }
}

/** Writes a whole file atomically. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await makeDir(dirname(target));
  const tmp = tempPathFor(target);
  try {
    injectedFault(tmp, 'open', 0);
    injectedFault(tmp, 'write', typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
    await writeFile(tmp, data);
    await fsyncPath(tmp);
    await rename(tmp, target);
    forgetTemp(tmp);
  } catch (err) {
    await removeTemp(tmp);
    throw namingTarget(err, target);
  }
}

/** Removes a registered temp (file or directory) and unregisters it. */
export async function removeTemp(tmp: string): Promise<void> {
  await rm(tmp, { recursive: true, force: true });
  forgetTemp(tmp);
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
    stream.on('error', (err) => (this.error ??= namingTarget(err, target) as Error));
  }

  static async create(target: string): Promise<AtomicFile> {
    await makeDir(dirname(target));
    const tmp = tempPathFor(target);
    try {
      injectedFault(tmp, 'open', 0);
    } catch (err) {
      forgetTemp(tmp);
      throw namingTarget(err, target);
    }
    const stream = createWriteStream(tmp, { highWaterMark: 1 << 20 });
    try {
      await once(stream, 'open');
    } catch (err) {
      await removeTemp(tmp);
      throw namingTarget(err, target);
    }
    return new AtomicFile(target, tmp, stream);
  }

  /** Writes a chunk; resolves once the stream can take more (backpressure). */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    try {
      injectedFault(this.tempPath, 'write', typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength);
    } catch (err) {
      throw (this.error = namingTarget(err, this.target) as Error);
    }
    // A write error arrives as the stream's 'error' event, not on 'drain': wait for either.
    if (!this.stream.write(chunk)) {
      try {
        await Promise.race([once(this.stream, 'drain'), once(this.stream, 'close')]);
      } catch (err) {
        throw this.error ?? namingTarget(err, this.target);
      }
    }
    if (this.error) throw this.error;
  }

  async commit(): Promise<void> {
    if (this.error) throw this.error;
    try {
      await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
      if (this.error) throw this.error;
      await fsyncPath(this.tempPath);
      await rename(this.tempPath, this.target);
    } catch (err) {
      throw namingTarget(err, this.target);
    }
    forgetTemp(this.tempPath);
  }

  async abort(): Promise<void> {
    // Buffered writes fail with ERR_STREAM_DESTROYED once destroyed; the error listener above takes them.
    if (!this.stream.closed) {
      const closed = new Promise<void>((resolve) => this.stream.once('close', () => resolve())); // not once(): it rejects on 'error'
      this.stream.destroy();
      await closed;
    }
    await removeTemp(this.tempPath);
  }
}

/**
 * Puts the finished directory `tmp` (or file) at `target`, replacing what is there. The old
 * target is renamed aside first and deleted only after the new one is in place, so at every
 * moment `target` is either the complete old or the complete new version, never missing.
 * `aside` is where the old one waits (default: beside the target).
 * @example await replaceDir('.model.tmp-12-ab', 'runs/stage1/query_encoder');
 */
export async function replaceDir(tmp: string, target: string, aside?: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const existing = await stat(target).catch(() => undefined);
  if (!existing) {
    await rename(tmp, target);
    forgetTemp(tmp);
    return;
  }
  // Registered: a signal between the two renames puts the old version back.
  aside = aside === undefined ? asidePathFor(target) : registerTemp(aside, target);
  await mkdir(dirname(aside), { recursive: true });
  await rename(target, aside);
  try {
    await rename(tmp, target);
    forgetTemp(tmp);
  } catch (err) {
    await rename(aside, target).catch(() => undefined);
    forgetTemp(aside);
    throw err;
  }
  await removeTemp(aside);
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
