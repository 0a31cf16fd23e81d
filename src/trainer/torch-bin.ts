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
 * Security: the pickle VM below implements only the opcodes torch emits and resolves only the
 * whitelisted globals (OrderedDict, torch's tensor rebuilders and storage types); any other global
 * (e.g. `os.system`) is an InputError, never executed — the reason not to go through Python's
 * unpickler.
 */
import { readFile, open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { InputError } from '../util/errors.ts';
import { ZipArchive } from '../io/zip.ts';
import { halfToFloat, type NamedTensor } from './safetensors.ts';

interface StorageType {
  bytes: number;
  /** How to read one element as float32; absent for integer/bool storages, whose tensors are skipped. */
  read?: (dv: DataView, at: number) => number;
}

const STORAGE_TYPES: Record<string, StorageType> = {
  FloatStorage: { bytes: 4, read: (dv, at) => dv.getFloat32(at, true) },
  HalfStorage: { bytes: 2, read: (dv, at) => halfToFloat(dv.getUint16(at, true)) },
  BFloat16Storage: { bytes: 2, read: (dv, at) => bf16ToFloat(dv.getUint16(at, true)) },
  DoubleStorage: { bytes: 8, read: (dv, at) => dv.getFloat64(at, true) },
  LongStorage: { bytes: 8 },
  IntStorage: { bytes: 4 },
  ShortStorage: { bytes: 2 },
  CharStorage: { bytes: 1 },
  ByteStorage: { bytes: 1 },
  BoolStorage: { bytes: 1 },
};

const bf16Bits = new Uint32Array(1);
const bf16Float = new Float32Array(bf16Bits.buffer);
/** bfloat16 is the upper half of a float32: the upcast is a shift. */
function bf16ToFloat(h: number): number {
  bf16Bits[0] = h << 16;
  return bf16Float[0];
}

const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter']);

class PyGlobal {
  constructor(readonly qualified: string) {}
}

interface StorageRef {
  type: string;
  key: string;
  numel: number;
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

interface PickleContext {
  file: string;
  /** Where in the file the pickle is, for errors: `entry "archive/data.pkl"` or `pickle 4`. */
  where: string;
  persistentLoad(pid: unknown): unknown;
}

/**
 * Runs the pickle at `bytes[pos..]` up to its STOP; returns the value and the position after STOP.
 * Only the opcodes `torch.save` emits (protocol 2, plus the cheap protocol-4 ones) are known.
 */
export function unpickle(bytes: Uint8Array, pos: number, ctx: PickleContext): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const fail = (problem: string): never => {
    throw new InputError(ctx.file, ctx.where, undefined, problem);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`the pickle ends at byte ${bytes.length} in the middle of an opcode (truncated)`);
  };
  const pop = (): unknown => (stack.length > (marks.at(-1) ?? 0) ? stack.pop() : fail(`stack underflow at byte ${pos}`));
  const popMark = (): unknown[] => {
    const m = marks.pop();
    return m === undefined ? fail(`no MARK before byte ${pos}`) : stack.splice(m);
  };
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail(`empty stack at byte ${pos}`));
  const text = (n: number): string => {
    if (n < 0) fail(`negative string length at byte ${pos}`);
    need(n);
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + pos, n).toString('utf8');
    pos += n;
    return s;
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('GLOBAL without a newline (truncated)');
    return text(nl - pos + 1).slice(0, -1);
  };
  const get = (i: number) => (memo.has(i) ? memo.get(i) : fail(`memo slot ${i} read before it was written (byte ${pos})`));
  const global = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (CALLABLES.has(q) || (module === 'torch' && Object.hasOwn(STORAGE_TYPES, name))) return new PyGlobal(q);
    return fail(`global ${q} is not allowed: only collections.OrderedDict, torch's tensor rebuilders and storage types are; refusing to run a pickle that is not a plain state dict`);
  };
  const asMap = (o: unknown, op: string): Map<unknown, unknown> => (o instanceof Map ? o : fail(`${op} on a ${typeName(o)}, not a dict (byte ${pos})`));
  const asList = (o: unknown, op: string): unknown[] => (Array.isArray(o) ? o : fail(`${op} on a ${typeName(o)}, not a list (byte ${pos})`));

  for (;;) {
    need(1);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (bytes[pos++] > 5) fail(`pickle protocol ${bytes[pos - 1]} is unknown`);
        break;
      case 0x95: // FRAME (protocol 4): a length prefix we do not need
        need(8);
        pos += 8;
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE (tuples and lists are both arrays here)
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        if (stack.length - (marks.at(-1) ?? 0) < n) fail(`stack underflow at byte ${at}`);
        stack.push(stack.splice(stack.length - n));
        break;
      }
      case 0x58: // BINUNICODE
        need(4);
        pos += 4;
        stack.push(text(dv.getUint32(pos - 4, true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
      case 0x55: // SHORT_BINSTRING (a Python 2 str, in checkpoints saved from Python 2)
        need(1);
        stack.push(text(bytes[pos++]));
        break;
      case 0x54: // BINSTRING (Python 2)
        need(4);
        pos += 4;
        stack.push(text(dv.getInt32(pos - 4, true)));
        break;
      case 0x71: // BINPUT
        need(1);
        memo.set(bytes[pos++], top());
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(dv.getUint32(pos, true), top());
        pos += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        need(1);
        stack.push(get(bytes[pos++]));
        break;
      case 0x6a: // LONG_BINGET
        need(4);
        pos += 4;
        stack.push(get(dv.getUint32(pos - 4, true)));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL on non-strings at byte ${at}`);
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(ctx.persistentLoad(pop()));
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(dv.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(bytes[pos++]);
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(dv.getUint16(pos, true));
        pos += 2;
        break;
      case 0x8a: {
        // LONG1: n bytes, little-endian two's complement
        need(1);
        const n = bytes[pos++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (n > 0 && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
        stack.push(op === 0x88);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args, fail));
        break;
      }
      case 0x62: {
        // BUILD: only the instance dict of an OrderedDict (a state dict's `_metadata`), which we drop
        pop();
        if (!(top() instanceof Map)) fail(`BUILD on a ${typeName(top())} at byte ${at}`);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asMap(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = asMap(top(), 'SETITEMS');
        if (items.length % 2) fail(`SETITEMS with an odd number of items at byte ${at}`);
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        asList(top(), 'APPENDS').push(...items);
        break;
      }
      default:
        fail(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} (torch.save writes protocol 2)`);
    }
  }
}

function typeName(o: unknown): string {
  if (o === null) return 'None';
  if (o instanceof Map) return 'dict';
  if (Array.isArray(o)) return 'tuple/list';
  if (o instanceof TensorRef) return 'tensor';
  if (o instanceof PyGlobal) return o.qualified;
  return typeof o;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

/** The whitelisted callables, applied to their pickled arguments. */
function call(fn: unknown, args: unknown, fail: (problem: string) => never): unknown {
  if (!(fn instanceof PyGlobal) || !CALLABLES.has(fn.qualified)) return fail(`REDUCE calls ${typeName(fn)}, which is not callable here`);
  if (!Array.isArray(args)) return fail(`REDUCE with ${typeName(args)} arguments to ${fn.qualified}`);
  switch (fn.qualified) {
    case 'collections.OrderedDict':
      return args.length === 0 ? new Map() : fail('collections.OrderedDict called with arguments');
    case 'torch._utils._rebuild_parameter':
      return args[0] instanceof TensorRef ? args[0] : fail(`_rebuild_parameter of a ${typeName(args[0])}`);
    default: {
      // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride] = args;
      if (typeof storage !== 'object' || storage === null || !('key' in storage)) return fail(`${fn.qualified}: first argument is a ${typeName(storage)}, not a storage`);
      if (!isInt(offset) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
        return fail(`${fn.qualified}: bad offset/size/stride ${JSON.stringify([offset, size, stride], (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      return new TensorRef(storage as StorageRef, offset, size, stride);
    }
  }
}

/** Checks a persistent id `('storage', torch.XStorage, key, location, numel[, view_metadata])`. */
function storageFromPid(pid: unknown, fail: (problem: string) => never, legacy: boolean): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== (legacy ? 6 : 5)) return fail(`unexpected persistent id ${typeName(pid)} ${Array.isArray(pid) ? String(pid[0]) : ''}`);
  const [, type, key, , numel] = pid;
  const name = type instanceof PyGlobal ? type.qualified.replace(/^torch\./, '') : '';
  if (!Object.hasOwn(STORAGE_TYPES, name)) return fail(`persistent id names ${typeName(type)}, not a torch storage type`);
  if (typeof key !== 'string' || !isInt(numel)) return fail(`persistent id with key ${typeName(key)} and size ${typeName(numel)}`);
  if (legacy && pid[5] !== null) return fail(`storage "${key}" is a view of another storage (pre-1.6 storage views are not supported; re-save with a recent torch)`);
  return { type: name, key, numel };
}

/** The state dict's (name, tensor) pairs; anything else in the top-level dict is an error. */
function stateDictEntries(value: unknown, file: string): [string, TensorRef][] {
  if (!(value instanceof Map)) throw new InputError(file, undefined, undefined, `the pickled object is a ${typeName(value)}, not a state dict`);
  const out: [string, TensorRef][] = [];
  for (const [k, v] of value) {
    if (!(v instanceof TensorRef)) throw new InputError(file, `entry "${String(k)}"`, undefined, `is a ${typeName(v)}, not a tensor (expected model.state_dict(), not a training checkpoint)`);
    out.push([String(k), v]);
  }
  return out;
}

/**
 * Turns tensor refs into float32 tensors (integer/bool ones are listed in `skipped`), reading each
 * storage once through `load` and dropping it after its last tensor.
 */
async function buildTensors(file: string, entries: [string, TensorRef][], load: (s: StorageRef, tensor: string) => Promise<Uint8Array>) {
  const tensors = new Map<string, NamedTensor>();
  const skipped: string[] = [];
  const uses = new Map<string, number>();
  for (const [, t] of entries) if (STORAGE_TYPES[t.storage.type].read) uses.set(t.storage.key, (uses.get(t.storage.key) ?? 0) + 1);
  const loaded = new Map<string, Uint8Array>();
  for (const [name, t] of entries) {
    const type = STORAGE_TYPES[t.storage.type];
    if (!type.read) {
      skipped.push(name);
      continue;
    }
    const key = t.storage.key;
    let bytes = loaded.get(key);
    if (!bytes) {
      bytes = await load(t.storage, name);
      if (bytes.length !== t.storage.numel * type.bytes) {
        throw new InputError(file, `tensor "${name}"`, undefined, `storage "${key}" holds ${bytes.length} bytes, its ${t.storage.numel} ${t.storage.type} elements need ${t.storage.numel * type.bytes}`);
      }
      loaded.set(key, bytes);
    }
    tensors.set(name, gather(file, name, t, bytes, type));
    const left = uses.get(key)! - 1;
    uses.set(key, left);
    if (left === 0) loaded.delete(key);
  }
  return { tensors, skipped };
}

const littleEndianHost = endianness() === 'LE';

/** Reads the strided view `t` of `bytes` in C order into a new float32 tensor. */
function gather(file: string, name: string, t: TensorRef, bytes: Uint8Array, type: StorageType): NamedTensor {
  const { size, stride, offset } = t;
  const count = size.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  if (count === 0) return { shape: size, data };
  const last = size.reduce((acc, s, d) => acc + (s - 1) * stride[d], offset);
  if (last >= t.storage.numel) {
    throw new InputError(file, `tensor "${name}"`, undefined, `size [${size}], stride [${stride}] and offset ${offset} reach element ${last}, past the end of storage "${t.storage.key}" (${t.storage.numel} elements)`);
  }
  let contiguous = true;
  for (let d = size.length - 1, want = 1; d >= 0; want *= size[d], d--) if (size[d] !== 1 && stride[d] !== want) contiguous = false;
  if (contiguous && type.bytes === 4 && t.storage.type === 'FloatStorage' && littleEndianHost) {
    new Uint8Array(data.buffer).set(bytes.subarray(offset * 4, (offset + count) * 4));
    return { shape: size, data };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = type.read!;
  const nd = size.length;
  const idx = new Array<number>(nd).fill(0);
  let pos = offset;
  for (let i = 0; i < count; i++) {
    data[i] = read(dv, pos * type.bytes);
    // Odometer over the indices, last dimension fastest (C order).
    for (let d = nd - 1; d >= 0; d--) {
      pos += stride[d];
      if (++idx[d] < size[d]) break;
      pos -= stride[d] * size[d];
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
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32LE(0) === 0x04034b50) return readZipFormat(file);
  if (head[0] === 0x80 && head[2] === 0x8a) return readLegacyFormat(file, await readFile(file));
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
