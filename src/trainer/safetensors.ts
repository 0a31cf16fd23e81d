/**
 * safetensors, the format of `model.safetensors`: an 8-byte little-endian header length N, N bytes
 * of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then
 * the raw little-endian tensor bytes (offsets relative to the end of the header).
 * We write F32, tensors sorted by name and packed back to back, header padded with spaces to
 * 8 bytes, metadata `{"format": "pt"}` (transformers refuses files without a known format).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.ts';
import { InputError } from '../util/errors.ts';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/**
 * Serializes float32 tensors to safetensors bytes.
 * @example const bytes = encodeSafetensors(new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]));
 */
export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`safetensors: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const view = new DataView(out.buffer, 8 + headerBytes.length);
  let pos = 0;
  for (const name of names) {
    // Explicit little-endian writes keep the file portable regardless of host byte order.
    for (const v of tensors.get(name)!.data) {
      view.setFloat32(pos, v, true);
      pos += 4;
    }
  }
  return out;
}

/** Writes tensors to `file` atomically. */
export async function writeSafetensors(file: string, tensors: Map<string, NamedTensor>): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors));
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * Parses safetensors bytes; float tensors (F32/F16/BF16/F64) come back as float32, other dtypes
 * (e.g. the I64 `position_ids` buffer some checkpoints carry) are listed in `skipped`.
 */
export function decodeSafetensors(bytes: Uint8Array, file: string): { tensors: Map<string, NamedTensor>; skipped: string[]; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new InputError(file, undefined, undefined, 'not a safetensors file (shorter than 8 bytes)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) throw new InputError(file, undefined, undefined, `header length ${n} does not fit in a ${bytes.length}-byte file (truncated, or not a safetensors file)`);
  let header: Record<string, any>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (err) {
    throw new InputError(file, 'header', undefined, `invalid JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new InputError(file, 'header', undefined, 'expected a JSON object of tensors');
  const base = 8 + n;
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offs } = info ?? {};
    if (!(dtype in DTYPE_BYTES) || !Array.isArray(shape) || !shape.every(isCount) || !Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
      throw new InputError(file, `tensor "${name}"`, undefined, `malformed header entry ${JSON.stringify(info)} (expected {dtype: one of ${Object.keys(DTYPE_BYTES).join('/')}, shape: [sizes], data_offsets: [begin, end]})`);
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    const [begin, end] = offs as [number, number];
    if (end - begin !== count * DTYPE_BYTES[dtype]) {
      throw new InputError(file, `tensor "${name}"`, 'data_offsets', `[${begin}, ${end}] hold ${end - begin} bytes, but ${dtype}[${shape}] is ${count * DTYPE_BYTES[dtype]} bytes (dtype or shape does not match the data)`);
    }
    if (base + end > bytes.length) {
      throw new InputError(file, `tensor "${name}"`, 'data_offsets', `[${begin}, ${end}] do not fit ${dtype}[${shape}] in a ${bytes.length}-byte file (the data ends at byte ${base + end}: truncated?)`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // The spec's layout: tensors back to back, no overlap, covering the data section exactly.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < byOffset.length; i++) {
    const [prev, t] = [byOffset[i - 1], byOffset[i]];
    if (prev && t.begin < prev.end) throw new InputError(file, `tensor "${t.name}"`, 'data_offsets', `[${t.begin}, ${t.end}] overlap tensor "${prev.name}" [${prev.begin}, ${prev.end}]`);
    covered = Math.max(covered, t.end);
  }
  if (base + covered !== bytes.length) {
    throw new InputError(file, undefined, undefined, `${bytes.length - base - covered} bytes after the last tensor (the header describes ${covered} bytes of data, the file holds ${bytes.length - base}): not one safetensors file as written`);
  }
  const tensors = new Map<string, NamedTensor>();
  const skipped: string[] = [];
  for (const { name, dtype, shape, begin, end } of entries) {
    const count = shape.reduce((a, b) => a * b, 1);
    const at = bytes.byteOffset + base + begin;
    const data = new Float32Array(count);
    const tv = new DataView(bytes.buffer, at, end - begin);
    if (dtype === 'F32') for (let i = 0; i < count; i++) data[i] = tv.getFloat32(i * 4, true);
    else if (dtype === 'F64') for (let i = 0; i < count; i++) data[i] = tv.getFloat64(i * 8, true);
    else if (dtype === 'F16') for (let i = 0; i < count; i++) data[i] = halfToFloat(tv.getUint16(i * 2, true));
    else if (dtype === 'BF16') {
      const u = new Uint32Array(data.buffer);
      for (let i = 0; i < count; i++) u[i] = tv.getUint16(i * 2, true) << 16;
    } else {
      skipped.push(name);
      continue;
    }
    tensors.set(name, { shape, data });
  }
  return { tensors, skipped, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}

/** Reads a safetensors file. */
export async function readSafetensors(file: string) {
  return decodeSafetensors(await readFile(file), file);
}
