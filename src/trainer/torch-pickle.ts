/**
 * The pickle side of `torch.save` files: a small, safe pickle VM for the opcodes torch emits and the
 * few globals a state dict needs (collections.OrderedDict, torch's tensor rebuilders and storage
 * types). Any other global (e.g. `os.system`) is an InputError; the whitelisted ones are interpreted
 * here, nothing is handed to a runtime. Tensors come out as references (storage, offset, size,
 * stride) for torch-bin.ts to read.
 */
import { InputError } from '../util/errors.ts';

export type FloatKind = 'f32' | 'f16' | 'bf16' | 'f64';

export interface StorageType {
  bytes: number;
  /** The float format, upcast to float32; absent for integer/bool storages, whose tensors are skipped. */
  float?: FloatKind;
}

export const STORAGE_TYPES: Record<string, StorageType> = {
  FloatStorage: { bytes: 4, float: 'f32' },
  HalfStorage: { bytes: 2, float: 'f16' },
  BFloat16Storage: { bytes: 2, float: 'bf16' },
  DoubleStorage: { bytes: 8, float: 'f64' },
  LongStorage: { bytes: 8 },
  IntStorage: { bytes: 4 },
  ShortStorage: { bytes: 2 },
  CharStorage: { bytes: 1 },
  ByteStorage: { bytes: 1 },
  BoolStorage: { bytes: 1 },
};

const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter']);

class PyGlobal {
  constructor(readonly qualified: string) {}
}

/** A storage named by a persistent id: its type (e.g. `FloatStorage`), key and element count. */
export class StorageRef {
  constructor(
    readonly type: string,
    readonly key: string,
    readonly numel: number,
  ) {}
}

export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

export interface PickleContext {
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
  if (o instanceof StorageRef) return 'storage';
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
      if (!(storage instanceof StorageRef)) return fail(`${fn.qualified}: first argument is a ${typeName(storage)}, not a storage`);
      if (!isInt(offset) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
        return fail(`${fn.qualified}: bad offset/size/stride ${JSON.stringify([offset, size, stride], (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      return new TensorRef(storage, offset, size, stride);
    }
  }
}

/** Checks a persistent id `('storage', torch.XStorage, key, location, numel[, view_metadata])`. */
export function storageFromPid(pid: unknown, fail: (problem: string) => never, legacy: boolean): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== (legacy ? 6 : 5)) return fail(`unexpected persistent id ${typeName(pid)} ${Array.isArray(pid) ? String(pid[0]) : ''}`);
  const [, type, key, , numel] = pid;
  const name = type instanceof PyGlobal ? type.qualified.replace(/^torch\./, '') : '';
  if (!Object.hasOwn(STORAGE_TYPES, name)) return fail(`persistent id names ${typeName(type)}, not a torch storage type`);
  if (typeof key !== 'string' || !isInt(numel)) return fail(`persistent id with key ${typeName(key)} and size ${typeName(numel)}`);
  if (legacy && pid[5] !== null) return fail(`storage "${key}" is a view of another storage (pre-1.6 storage views are not supported; re-save with a recent torch)`);
  return new StorageRef(name, key, numel);
}

/** The state dict's (name, tensor) pairs; anything else in the top-level dict is an error. */
export function stateDictEntries(value: unknown, file: string): [string, TensorRef][] {
  if (!(value instanceof Map)) throw new InputError(file, undefined, undefined, `the pickled object is a ${typeName(value)}, not a state dict`);
  const out: [string, TensorRef][] = [];
  for (const [k, v] of value) {
    if (!(v instanceof TensorRef)) throw new InputError(file, `entry "${String(k)}"`, undefined, `is a ${typeName(v)}, not a tensor (expected model.state_dict(), not a training checkpoint)`);
    out.push([String(k), v]);
  }
  return out;
}
