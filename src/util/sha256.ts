/** sha256 of bytes in memory, for manifests of index and embeddings files of any size. */
import { createHash } from 'node:crypto';

/** Largest slice one Hash.update takes (Node refuses 2 GiB and more at once: "data is too long"). */
const HASH_SLICE = 1 << 30;

/** sha256 of bytes in memory, fed in 1 GiB slices (a 10M-passage index's postings are 3.3 GB). */
export function sha256Bytes(data: ArrayBuffer | SharedArrayBuffer | Uint8Array, slice = HASH_SLICE): string {
  const view = data instanceof Uint8Array ? data : new Uint8Array(data);
  const hash = createHash('sha256');
  for (let at = 0; at < view.length; at += slice) hash.update(view.subarray(at, Math.min(at + slice, view.length)));
  return hash.digest('hex');
}
