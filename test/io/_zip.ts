/** Test-only writers: a stored (uncompressed) zip archive and the pickle opcodes torch.save uses. */
import * as zlib from 'node:zlib';

/** A zip of stored entries (method 0), optionally with an archive comment after the EOCD record. */
export function zipStored(entries: [string, Uint8Array][], comment = ''): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name);
    const crc = zlib.crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    parts.push(local, n, Buffer.from(data));
    central.push(c, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(central);
  const com = Buffer.from(comment);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(com.length, 20);
  return Buffer.concat([...parts, cd, eocd, com]);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return [...b];
};

/** Pickle opcodes (protocol 2), as byte arrays to concatenate. */
export const op = {
  proto: [0x80, 2],
  stop: [0x2e],
  mark: [0x28],
  dict: [0x7d],
  tuple: [0x74],
  emptyTuple: [0x29],
  reduce: [0x52],
  setitems: [0x75],
  setitem: [0x73],
  persid: [0x51],
  false: [0x89],
  none: [0x4e],
  str: (s: string) => [0x58, ...u32(Buffer.byteLength(s)), ...Buffer.from(s)],
  /** Python 2's str (SHORT_BINSTRING). */
  py2str: (s: string) => [0x55, Buffer.byteLength(s), ...Buffer.from(s)],
  global: (module: string, name: string) => [0x63, ...Buffer.from(`${module}\n${name}\n`)],
  int: (n: number) => (n < 256 ? [0x4b, n] : [0x4a, ...u32(n)]),
  ints: (xs: number[]) => [...op.mark, ...xs.flatMap(op.int), ...op.tuple],
};

/** `OrderedDict(name → _rebuild_tensor_v2(storage(type, key, numel), offset, size, stride))`, as torch pickles it. */
export function tensorPickle(
  tensors: { name: string; type?: string; key: string; numel: number; offset?: number; size: number[]; stride: number[] }[],
  str: (s: string) => number[] = op.str,
): Uint8Array {
  const body = tensors.flatMap((t) => [
    ...str(t.name),
    ...op.global('torch._utils', '_rebuild_tensor_v2'),
    ...op.mark,
    ...op.mark, ...str('storage'), ...op.global('torch', t.type ?? 'FloatStorage'), ...str(t.key), ...str('cpu'), ...op.int(t.numel), ...op.tuple,
    ...op.persid,
    ...op.int(t.offset ?? 0), ...op.ints(t.size), ...op.ints(t.stride), ...op.false,
    ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce,
    ...op.tuple,
    ...op.reduce,
  ]);
  return Uint8Array.from([...op.proto, ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.mark, ...body, ...op.setitems, ...op.stop]);
}
