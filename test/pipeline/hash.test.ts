import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HashCache, sha256File } from '../../src/pipeline/hash.ts';
import { tempProject } from './_helpers.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const past = (hoursAgo: number) => new Date(Date.now() - hoursAgo * 3600_000);

test('hash: a file hash is the sha256 of its bytes, streamed', async () => {
  const dir = await tempProject();
  const big = 'x'.repeat(5 << 20) + 'end';
  await writeFile(join(dir, 'big'), big);
  assert.equal(await sha256File(join(dir, 'big')), sha(big));
  const cache = await HashCache.open(undefined);
  assert.equal(await cache.hashPath(join(dir, 'big')), `sha256:${sha(big)}`);
});

test('hash: unchanged files come from the saved cache; changed ones are reread', async () => {
  const dir = await tempProject();
  const file = join(dir, 'f.txt');
  const store = join(dir, 'cache.json');
  await writeFile(file, 'abc');
  await utimes(file, past(2), past(2));
  const c1 = await HashCache.open(store);
  assert.equal(await c1.hashFile(file), sha('abc'));
  assert.equal(await c1.hashFile(file), sha('abc'));
  assert.equal(c1.rehashed, 1);
  await c1.save();
  const c2 = await HashCache.open(store);
  assert.equal(await c2.hashFile(file), sha('abc'));
  assert.equal(c2.rehashed, 0, 'served from the saved cache');
  await writeFile(file, 'abd');
  assert.equal(await c2.hashFile(file), sha('abd'), 'a new mtime means a reread');
  assert.equal(c2.rehashed, 1);
});

test('hash: a same-size rewrite with the old mtime is invisible to the cache but not to verify', async () => {
  const dir = await tempProject();
  const file = join(dir, 'f.txt');
  const when = past(2);
  await writeFile(file, 'abc');
  await utimes(file, when, when);
  const cache = await HashCache.open(undefined);
  await cache.hashFile(file);
  await writeFile(file, 'xyz');
  await utimes(file, when, when);
  assert.equal(await cache.hashFile(file), sha('abc'), 'the (size, mtime, inode) key cannot see this');
  const verifying = await HashCache.open(undefined, { verify: true });
  assert.equal(await verifying.hashFile(file), sha('xyz'));
});

test('hash: a file modified just before it was hashed is not trusted next time (racy mtime)', async () => {
  const dir = await tempProject();
  const file = join(dir, 'fresh.txt');
  await writeFile(file, 'abc');
  const cache = await HashCache.open(undefined);
  await cache.hashFile(file);
  await cache.hashFile(file);
  assert.equal(cache.rehashed, 2);
});

test('hash: directory hashes depend on names and contents, not on where the tree is', async () => {
  const dir = await tempProject();
  const make = async (root: string, names: string[]) => {
    await mkdir(join(root, 'sub', 'empty'), { recursive: true });
    for (const n of names) await writeFile(join(root, n), `content of ${n.replace(/.*\//, '')}`);
  };
  await make(join(dir, 'one'), ['a.bin', 'sub/b.bin']);
  await make(join(dir, 'two'), ['a.bin', 'sub/b.bin']);
  const cache = await HashCache.open(undefined);
  const h1 = await cache.hashPath(join(dir, 'one'));
  assert.match(h1, /^dir-sha256:[0-9a-f]{64}$/);
  assert.equal(await cache.hashPath(join(dir, 'two')), h1);
  await rename(join(dir, 'two', 'sub', 'b.bin'), join(dir, 'two', 'sub', 'c.bin'));
  assert.notEqual(await cache.hashPath(join(dir, 'two')), h1, 'a rename changes the hash');
  await rename(join(dir, 'two', 'sub', 'c.bin'), join(dir, 'two', 'sub', 'b.bin'));
  await mkdir(join(dir, 'two', 'sub', 'empty2'));
  assert.notEqual(await cache.hashPath(join(dir, 'two')), h1, 'an empty directory counts');
});
