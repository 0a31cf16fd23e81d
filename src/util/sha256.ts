/** sha256 of bytes in memory, for manifests of index and embeddings files of any size. */
import { createHash } from 'node:crypto';

/** Largest slice one Hash.update takes (Node refuses 2 GiB and more at once: "data is too long"). */
const HASH_SLICE = 1 << 30;

/**
 * sha256 of bytes in memory, fed in 1 GiB slices (a 10M-passage index's postings are 3.3 GB). Each
 * slice is its own view: a Uint8Array cannot span more than 2³² bytes, an ArrayBuffer can (21M
 * passages' postings are about 7 GB).
 */
export function sha256Bytes(data: ArrayBuffer | SharedArrayBuffer | Uint8Array, slice = HASH_SLICE): string {
  const [buffer, offset, length] = data instanceof Uint8Array ? [data.buffer, data.byteOffset, data.byteLength] : [data, 0, data.byteLength];
  const hash = createHash('sha256');
  for (let at = 0; at < length; at += slice) hash.update(new Uint8Array(buffer, offset + at, Math.min(slice, length - at)));
  return hash.digest('hex');
}
