/**
 * Content hashes of pipeline inputs and outputs: sha256, streamed, for files and directories.
 * A per-workdir cache keyed by (path, size, mtime, inode) means unchanged multi-GB inputs are
 * read once, not on every run; `verify` forces a re-read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { Progress } from '../util/progress.ts';

/** What the cache remembers about one file. */
interface CachedHash {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
  /** When the hash was taken: a file modified in the same clock tick must not be trusted (racy mtime). */
  hashedAtMs: number;
}

/** Files at least this big get a progress line while hashed. */
const PROGRESS_BYTES = 256 * 1024 * 1024;
/** mtimes closer than this to the hashing time may hide a same-size rewrite; such entries are rehashed. */
const RACY_MS = 2000;

/** Streams a file through sha256. @example await sha256File('corpus.jsonl') // 'e3b0c4…' */
export async function sha256File(path: string, size?: number): Promise<string> {
  const hash = createHash('sha256');
  const progress = size !== undefined && size >= PROGRESS_BYTES ? new Progress(`hash ${path}`, { total: size, unit: 'B' }) : undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
    hash.update(chunk as Buffer);
    progress?.tick((chunk as Buffer).length);
  }
  progress?.finish();
  return hash.digest('hex');
}

/**
 * Hashes files and directories, remembering file hashes in a JSON file so that files whose
 * size, mtime and inode did not change are not read again.
 *
 * @example
 * const hashes = await HashCache.open('.dprep/hash-cache.json');
 * const h = await hashes.hashPath('data/corpus.jsonl');   // 'sha256:…' (files) or 'dir-sha256:…'
 * await hashes.save();
 */
/** A cache entry as saved: every field of the right type, the sha256 a hex digest. */
function wholeEntry(v: unknown): v is CachedHash {
  const e = v as CachedHash | null;
  return (
    typeof e === 'object' && e !== null &&
    [e.size, e.mtimeMs, e.ino, e.hashedAtMs].every((n) => typeof n === 'number' && Number.isFinite(n)) &&
    typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256)
  );
}

export class HashCache {
  private dirty = false;

  private constructor(
    private readonly file: string | undefined,
    private readonly entries: Map<string, CachedHash>,
    /** Re-read every file even when the cache has it (`--verify-hashes`). */
    private readonly verify: boolean,
  ) {}

  /**
   * Opens the cache stored in `file` (created on save); `file` undefined keeps it in memory,
   * and `readOnly` uses the stored entries without ever writing (status, dry runs).
   */
  static async open(file: string | undefined, opts: { verify?: boolean; readOnly?: boolean } = {}): Promise<HashCache> {
    const entries = new Map<string, CachedHash>();
    if (file) {
      try {
        const parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, CachedHash>;
        // An entry that is not whole is left out: it only costs a rehash of that file.
        for (const [k, v] of Object.entries(parsed)) if (wholeEntry(v)) entries.set(k, v);
      } catch {
        // A missing or damaged cache only costs a rehash.
      }
    }
    return new HashCache(opts.readOnly ? undefined : file, entries, opts.verify ?? false);
  }

  /** Files read (not served from the cache) since this cache was opened. */
  rehashed = 0;

  /** sha256 of a file's bytes, from the cache when its (size, mtime, inode) are unchanged. */
  async hashFile(path: string): Promise<string> {
    const st = await stat(path);
    const hit = this.entries.get(path);
    if (
      !this.verify &&
      hit &&
      hit.size === st.size &&
      hit.mtimeMs === st.mtimeMs &&
      hit.ino === st.ino &&
      hit.hashedAtMs - st.mtimeMs > RACY_MS
    ) {
      return hit.sha256;
    }
    const hashedAtMs = Date.now();
    const sha256 = await sha256File(path, st.size);
    this.rehashed++;
    const after = await stat(path);
    // A file that changed while we read it gets no cache entry (its hash may be of a mix).
    if (after.mtimeMs === st.mtimeMs && after.size === st.size) {
      this.entries.set(path, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256, hashedAtMs });
      this.dirty = true;
    }
    return sha256;
  }

  /**
   * A content hash of a file (`sha256:<hex>`) or a directory (`dir-sha256:<hex>` over the sorted
   * relative paths, kinds and file hashes of everything below it, so names count as content).
   */
  async hashPath(path: string): Promise<string> {
    const st = await stat(path);
    if (!st.isDirectory()) return `sha256:${await this.hashFile(path)}`;
    const lines: string[] = [];
    for (const rel of await listTree(path)) {
      const full = join(path, rel.path);
      lines.push(rel.dir ? `${rel.path}\0dir\n` : `${rel.path}\0file\0${await this.hashFile(full)}\n`);
    }
    return `dir-sha256:${createHash('sha256').update(lines.join('')).digest('hex')}`;
  }

  /** Drops entries of files that no longer exist, then writes the cache atomically. */
  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    const out: Record<string, CachedHash> = {};
    for (const key of [...this.entries.keys()].sort()) {
      try {
        await stat(key);
        out[key] = this.entries.get(key)!;
      } catch {
        // gone: forget it
      }
    }
    await writeFileAtomic(this.file, JSON.stringify(out, null, 1) + '\n');
    this.dirty = false;
  }
}

/** Every entry below `root`, depth first, sorted by name (code-unit order, independent of locale); symlinks followed as files. */
export async function listTree(root: string): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, childRel));
      if (st.isDirectory()) {
        out.push({ path: childRel, dir: true });
        await walk(childRel);
      } else out.push({ path: childRel, dir: false });
    }
  }
  await walk('');
  return out;
}
