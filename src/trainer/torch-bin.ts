/**
 * `pytorch_model.bin`, the format `torch.save(state_dict)` writes, read without Python.
 *
 * Since torch 1.6 it is a zip archive: `<archive>/data.pkl` (the state dict, pickled with
 * protocol 2), `<archive>/data/<key>` (one entry of raw little-endian bytes per storage) and
 * `<archive>/version`; the archive folder name varies (it is the file stem in older torch), so it
 * is taken from the entries. Tensors are pickled as `_rebuild_tensor_v2(storage, offset, size,
 * stride, requires_grad, hooks)` with the storage as a persistent id `('storage', torch.FloatStorage,
 * key, location, numel)`; offset and strides are honoured (views saved as they are), and tensors
 * sharing a storage (tied embeddings) read it once.
 *
 * The pre-1.6 format (`_use_new_zipfile_serialization=False`) is supported too: a stream of pickles
 * (magic number, protocol version, system info, the state dict, the storage keys) followed by each
 * storage as an int64 element count and its bytes.
 *
 * Security: the pickle VM (torch-pickle.ts) implements only the opcodes torch emits and resolves only the
 * whitelisted globals (OrderedDict, torch's tensor rebuilders and storage types); any other global
 * (e.g. `os.system`) is an InputError, never executed — the reason not to go through Python's
 * unpickler.
 */
import { readFile, open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { InputError } from '../util/errors.ts';
import { ZipArchive } from '../io/zip.ts';
import { halfToFloat, type NamedTensor } from './safetensors.ts';
import { STORAGE_TYPES, stateDictEntries, storageFromPid, unpickle, type FloatKind, type PickleContext, type StorageRef, type StorageType, type TensorRef } from './torch-pickle.ts';

let halfTable: Float32Array | undefined;
/** fp16 → float32 for all 65536 bit patterns: a table lookup per element instead of bit arithmetic. */
function halfLut(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

const littleEndianHost = endianness() === 'LE';

type Elements = Float32Array | Float64Array | Uint16Array;

/** A storage's little-endian bytes as a typed array of its elements: a view when aligned, else a copy. */
function elements(bytes: Uint8Array, type: StorageType): Elements {
  const size = type.bytes;
  let b = bytes;
  if (b.byteOffset % size !== 0 || !littleEndianHost) b = new Uint8Array(b); // a copy (Buffer.slice would share)
  if (!littleEndianHost) for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
  const n = b.byteLength / size;
  if (type.float === 'f32') return new Float32Array(b.buffer, b.byteOffset, n);
  if (type.float === 'f64') return new Float64Array(b.buffer, b.byteOffset, n);
  return new Uint16Array(b.buffer, b.byteOffset, n);
}

/**
 * Turns tensor refs into float32 tensors (integer/bool ones are listed in `skipped`), reading each
 * storage once through `load` and dropping it after its last tensor.
 */
async function buildTensors(file: string, entries: [string, TensorRef][], load: (s: StorageRef, tensor: string) => Promise<Uint8Array>) {
  const tensors = new Map<string, NamedTensor>();
  const skipped: string[] = [];
  const uses = new Map<string, number>();
  for (const [, t] of entries) if (STORAGE_TYPES[t.storage.type].float) uses.set(t.storage.key, (uses.get(t.storage.key) ?? 0) + 1);
  const loaded = new Map<string, Elements>();
  for (const [name, t] of entries) {
    const type = STORAGE_TYPES[t.storage.type];
    if (!type.float) {
      skipped.push(name);
      continue;
    }
    const key = t.storage.key;
    let src = loaded.get(key);
    if (!src) {
      const bytes = await load(t.storage, name);
      if (bytes.length !== t.storage.numel * type.bytes) {
        throw new InputError(file, `tensor "${name}"`, undefined, `storage "${key}" holds ${bytes.length} bytes, its ${t.storage.numel} ${t.storage.type} elements need ${t.storage.numel * type.bytes}`);
      }
      src = elements(bytes, type);
      loaded.set(key, src);
    }
    tensors.set(name, gather(file, name, t, src, type.float));
    const left = uses.get(key)! - 1;
    uses.set(key, left);
    if (left === 0) loaded.delete(key);
  }
  return { tensors, skipped };
}

const MAX_ELEMENTS = 2 ** 32 - 1;

/** Reads the strided view `t` of storage `src` in C order into a new float32 tensor. */
function gather(file: string, name: string, t: TensorRef, src: Elements, kind: FloatKind): NamedTensor {
  const { size, stride, offset } = t;
  const count = size.reduce((a, b) => a * b, 1);
  if (count === 0) return { shape: size, data: new Float32Array(0) };
  const last = size.reduce((acc, s, d) => acc + (s - 1) * stride[d], offset);
  if (last >= t.storage.numel) {
    throw new InputError(file, `tensor "${name}"`, undefined, `size [${size}], stride [${stride}] and offset ${offset} reach element ${last}, past the end of storage "${t.storage.key}" (${t.storage.numel} elements)`);
  }
  // Zero strides (expanded views) can describe more elements than one typed array holds.
  if (count > MAX_ELEMENTS) throw new InputError(file, `tensor "${name}"`, undefined, `size [${size}] is ${count} elements, more than one Float32Array holds`);
  const data = new Float32Array(count);
  // Row by row over the last dimension; an odometer steps through the others (C order).
  const nd = size.length;
  const inner = nd ? size[nd - 1] : 1;
  const step = nd ? stride[nd - 1] : 1;
  const lut = kind === 'f16' ? halfLut() : undefined;
  // bfloat16 is the upper half of a float32: the upcast is a shift into the output's bits.
  const bits = kind === 'bf16' ? new Uint32Array(data.buffer) : undefined;
  const idx = new Array<number>(Math.max(nd - 1, 0)).fill(0);
  let start = offset;
  for (let o = 0; o < count; o += inner) {
    if (lut) for (let j = 0; j < inner; j++) data[o + j] = lut[src[start + j * step]];
    else if (bits) for (let j = 0; j < inner; j++) bits[o + j] = src[start + j * step] << 16;
    else if (step === 1) data.set((src as Float32Array | Float64Array).subarray(start, start + inner), o);
    else for (let j = 0; j < inner; j++) data[o + j] = src[start + j * step];
    for (let d = nd - 2; d >= 0; d--) {
      start += stride[d];
      if (++idx[d] < size[d]) break;
      start -= stride[d] * size[d];
      idx[d] = 0;
    }
  }
  return { shape: size, data };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Reads a `torch.save`d state dict (zip format, or the pre-1.6 format); float tensors
 * (float32/float16/bfloat16/float64) come back as float32 under their names, other dtypes (e.g. an
 * int64 `position_ids` buffer) are listed in `skipped` — the same result as `readSafetensors`.
 * @example const { tensors, skipped } = await readTorchBin('model/pytorch_model.bin');
 */
export async function readTorchBin(file: string): Promise<{ tensors: Map<string, NamedTensor>; skipped: string[] }> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(4);
  let size: number;
  try {
    await fh.read(head, 0, 4, 0);
    size = (await fh.stat()).size;
  } finally {
    await fh.close();
  }
  if (head.readUInt32LE(0) === 0x04034b50) return readZipFormat(file);
  if (head[0] === 0x80 && head[2] === 0x8a) {
    // The old format is one stream read whole; Node reads at most 2 GiB into one buffer.
    if (size > 2 ** 31 - 1) throw new InputError(file, undefined, undefined, `a pre-1.6 torch.save file of ${size} bytes: past 2 GiB only the zip format is supported (re-save it with torch >= 1.6)`);
    return readLegacyFormat(file, await readFile(file));
  }
  throw new InputError(file, undefined, undefined, 'not a torch.save file: neither a zip archive (torch >= 1.6) nor a pickle stream (older torch)');
}

async function readZipFormat(file: string) {
  const zip = await ZipArchive.open(file);
  try {
    const pkl = [...zip.entries.keys()].find((n) => n === 'data.pkl' || (n.endsWith('/data.pkl') && n.indexOf('/') === n.length - 9));
    if (pkl === undefined) throw new InputError(file, undefined, undefined, 'a zip archive without <archive>/data.pkl: not a torch.save file');
    const prefix = pkl.slice(0, -'data.pkl'.length);
    const byteorder = zip.entries.has(prefix + 'byteorder') ? Buffer.from(await zip.read(prefix + 'byteorder')).toString() : 'little';
    if (byteorder !== 'little') throw new InputError(file, `entry "${prefix}byteorder"`, undefined, `${byteorder}-endian storages are not supported`);
    const ctx: PickleContext = {
      file,
      where: `entry "${pkl}"`,
      persistentLoad: (pid) => storageFromPid(pid, (p) => { throw new InputError(file, ctx.where, undefined, p); }, false),
    };
    const { value } = unpickle(await zip.read(pkl), 0, ctx);
    return await buildTensors(file, stateDictEntries(value, file), async (s, tensor) => {
      const entry = `${prefix}data/${s.key}`;
      if (!zip.entries.has(entry)) throw new InputError(file, `tensor "${tensor}"`, undefined, `its storage entry "${entry}" is missing from the archive`);
      return zip.read(entry);
    });
  } finally {
    await zip.close();
  }
}

/** The pre-1.6 stream: magic, protocol version, sys info, state dict, storage keys, then the storages. */
function readLegacyFormat(file: string, bytes: Uint8Array) {
  const storages = new Map<string, StorageRef>();
  let pos = 0;
  const next = (n: number) => {
    const ctx: PickleContext = {
      file,
      where: `pickle ${n}`,
      persistentLoad: (pid) => {
        const s = storageFromPid(pid, (p) => { throw new InputError(file, ctx.where, undefined, p); }, true);
        storages.set(s.key, s);
        return s;
      },
    };
    const r = unpickle(bytes, pos, ctx);
    pos = r.end;
    return r.value;
  };
  if (next(1) !== LEGACY_MAGIC) throw new InputError(file, undefined, undefined, 'a pickle without torch\'s magic number: not a torch.save file');
  next(2); // protocol version (1001)
  const info = next(3);
  if (!(info instanceof Map) || info.get('little_endian') !== true) throw new InputError(file, 'pickle 3', undefined, 'the file was saved on a big-endian machine (not supported)');
  const entries = stateDictEntries(next(4), file);
  const keys = next(5);
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new InputError(file, 'pickle 5', undefined, 'expected the list of storage keys');
  const data = new Map<string, Uint8Array>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const s = storages.get(key);
    if (!s) throw new InputError(file, `storage "${key}"`, undefined, 'listed in the key table but used by no tensor');
    if (pos + 8 > bytes.length) throw new InputError(file, `storage "${key}"`, undefined, `truncated: the file ends at byte ${bytes.length} before its size`);
    const len = Number(dv.getBigInt64(pos, true)) * STORAGE_TYPES[s.type].bytes;
    pos += 8;
    if (len < 0 || pos + len > bytes.length) throw new InputError(file, `storage "${key}"`, undefined, `truncated: ${len} bytes at byte ${pos}, the file ends at ${bytes.length}`);
    data.set(key, bytes.subarray(pos, pos + len));
    pos += len;
  }
  return buildTensors(file, entries, async (s, tensor) => {
    const d = data.get(s.key);
    if (!d) throw new InputError(file, `tensor "${tensor}"`, undefined, `its storage "${s.key}" is not in the file`);
    return d;
  });
}
