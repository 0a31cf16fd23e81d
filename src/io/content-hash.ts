/**
 * Content hashes of files and file sets: what manifests record to say which model and corpus they
 * were made from (by content, never by path or mtime, so a copy in another workdir is the same
 * input and an edit in place is a different one).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * sha256 (hex) and size of a file, streamed.
 * @example const { sha256, bytes } = await sha256File('corpus.jsonl');
 */
export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** sha256 of a set of named files: each file's own hash, and one hash over the sorted (name, hash) pairs. */
export interface FileSetHash {
  sha256: string;
  files: Record<string, string>;
}

/**
 * Hashes the regular files directly in `dir` (and in `subdirs` of it, named `sub/file`); hidden
 * files and temp files are left out.
 * @example const { sha256, files } = await sha256Dir('runs/s1/passage_encoder');
 */
export async function sha256Dir(dir: string, subdirs: readonly string[] = []): Promise<FileSetHash> {
  const names: string[] = [];
  for (const sub of ['', ...subdirs]) {
    const entries = await readdir(join(dir, sub), { withFileTypes: true });
    for (const e of entries) if (e.isFile() && !e.name.startsWith('.') && !e.name.includes('.tmp-')) names.push(sub ? `${sub}/${e.name}` : e.name);
  }
  names.sort();
  const files: Record<string, string> = {};
  for (const name of names) files[name] = (await sha256File(join(dir, name))).sha256;
  return { sha256: combineHashes(files), files };
}

/** One sha256 over sorted `name\thash\n` lines. */
export function combineHashes(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) h.update(`${name}\t${files[name]}\n`);
  return h.digest('hex');
}

/** The names whose hashes differ between two file sets (added, removed or changed). */
export function changedFiles(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((n) => a[n] !== b[n]).sort();
}
