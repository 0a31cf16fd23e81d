/**
 * Index files over 4 GiB (a 21M-passage BM25 index's docs and impacts arrays are about 7 GB each):
 * readFileBuffer and sha256Bytes must not build a Uint8Array over the whole buffer, which V8 caps
 * at 2³² elements ("Invalid typed array length", found at 10M while checking the 21M arithmetic).
 * A sparse 4.5 GB file with marks past the 4 GiB line is read whole and hashed, the hash checked
 * against one fed from the file in 64 MiB reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileBuffer } from '../../src/search/bm25/store.ts';
import { sha256Bytes } from '../../src/util/sha256.ts';

const SIZE = 4.5 * 2 ** 30;
const MARKS = [7, 2 ** 32 - 2, 2 ** 32 + 12_345, SIZE - 1];
const skip = freemem() < 8 * 2 ** 30 ? `needs 8 GB of free RAM for a ${SIZE / 2 ** 30} GiB buffer (${(freemem() / 2 ** 30).toFixed(1)} GiB free)` : false;

test('a file past 4 GiB loads into one (shared) buffer and hashes as the file does', { skip, timeout: 300_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-large-'));
  try {
    const file = join(dir, 'big.bin');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, SIZE);
    MARKS.forEach((at, i) => writeSync(fd, Buffer.from([i + 1]), 0, 1, at));
    closeSync(fd);
    const want = createHash('sha256');
    const rfd = openSync(file, 'r');
    const chunk = Buffer.alloc(64 << 20);
    for (let at = 0; at < SIZE; ) {
      const n = readSync(rfd, chunk, 0, Math.min(chunk.length, SIZE - at), at);
      want.update(chunk.subarray(0, n));
      at += n;
    }
    closeSync(rfd);
    const buf = readFileBuffer(file, true);
    assert.equal(buf.byteLength, SIZE);
    MARKS.forEach((at, i) => assert.equal(new Uint8Array(buf, at, 1)[0], i + 1, `byte ${at}`));
    assert.equal(new Uint32Array(buf).length, SIZE / 4);
    assert.equal(sha256Bytes(buf), want.digest('hex'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
