import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSafetensors, encodeSafetensors } from '../../src/trainer/safetensors.ts';
import { InputError } from '../../src/util/errors.ts';

const tensors = new Map([
  ['b.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, Math.PI]) }],
  ['a.bias', { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
]);

test('safetensors round trip is bit-exact', () => {
  const { tensors: back, skipped } = decodeSafetensors(encodeSafetensors(tensors), 'mem');
  assert.deepEqual(skipped, []);
  for (const [name, t] of tensors) {
    assert.deepEqual(back.get(name)!.shape, t.shape);
    assert.deepEqual(new Uint32Array(back.get(name)!.data.buffer), new Uint32Array(t.data.buffer), name);
  }
});

test('header follows the safetensors spec that HF loaders check', () => {
  const bytes = encodeSafetensors(tensors);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'data starts 8-byte aligned');
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  // Sorted names, contiguous offsets starting at 0, covering the whole data section.
  assert.deepEqual(header['a.bias'], { dtype: 'F32', shape: [3], data_offsets: [0, 12] });
  assert.deepEqual(header['b.weight'], { dtype: 'F32', shape: [2, 3], data_offsets: [12, 36] });
  assert.equal(bytes.length, 8 + n + 36);
  // Little-endian float32 at the offset.
  assert.equal(new DataView(bytes.buffer).getFloat32(8 + n + 12 + 8, true), 3.5);
});

test('F16, BF16 and F64 tensors decode to float32; I64 buffers are skipped', () => {
  const header = {
    h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
    bf: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
    d: { dtype: 'F64', shape: [1], data_offsets: [10, 18] },
    'embeddings.position_ids': { dtype: 'I64', shape: [1], data_offsets: [18, 26] },
  };
  const json = Buffer.from(JSON.stringify(header));
  const buf = new Uint8Array(8 + json.length + 26);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  buf.set(json, 8);
  const base = 8 + json.length;
  [0x3c00, 0xc000, 0x3555].forEach((h, i) => dv.setUint16(base + 2 * i, h, true)); // 1, -2, ~0.33325
  [0x3f80, 0x4049].forEach((h, i) => dv.setUint16(base + 6 + 2 * i, h, true)); // 1, 3.140625
  dv.setFloat64(base + 10, 0.25, true);
  const { tensors: t, skipped } = decodeSafetensors(buf, 'mixed.safetensors');
  assert.deepEqual([...t.get('h')!.data], [1, -2, Math.fround(0.333251953125)]);
  assert.deepEqual([...t.get('bf')!.data], [1, 3.140625]);
  assert.deepEqual([...t.get('d')!.data], [0.25]);
  assert.deepEqual(skipped, ['embeddings.position_ids']);
});

test('malformed files are InputErrors naming the file and tensor', () => {
  const good = encodeSafetensors(tensors);
  assert.throws(() => decodeSafetensors(good.subarray(0, 4), 'x.safetensors'), (e: unknown) => e instanceof InputError && /x\.safetensors/.test(e.message));
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 4), 'x.safetensors'), /tensor "b\.weight".*data_offsets/);
});

/** A safetensors file from a hand-written header and `dataBytes` bytes of data. */
function fileWith(header: unknown, dataBytes: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const buf = new Uint8Array(8 + json.length + dataBytes);
  new DataView(buf.buffer).setBigUint64(0, BigInt(json.length), true);
  buf.set(json, 8);
  return buf;
}

const DAMAGED: { what: string; bytes: () => Uint8Array; error: RegExp }[] = [
  { what: 'a file cut inside the data', bytes: () => { const b = encodeSafetensors(tensors); return b.subarray(0, b.length - 10); }, error: /x\.safetensors, tensor "b\.weight", field "data_offsets": \[12, 36\] do not fit F32\[2,3\] in a \d+-byte file.*truncated/ },
  { what: 'offsets past the end', bytes: () => fileWith({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 8), error: /tensor "w", field "data_offsets": \[8, 16\] do not fit/ },
  { what: 'a dtype that does not match the data', bytes: () => fileWith({ w: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, 8), error: /tensor "w", field "data_offsets": \[0, 8\] hold 8 bytes, but F64\[2\] is 16 bytes/ },
  { what: 'a shape that does not match the data', bytes: () => fileWith({ w: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 8] } }, 8), error: /tensor "w".*hold 8 bytes, but F32\[3,2\] is 24 bytes/ },
  { what: 'a negative or fractional size', bytes: () => fileWith({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), error: /tensor "w": malformed header entry/ },
  { what: 'an unknown dtype', bytes: () => fileWith({ w: { dtype: 'F8', shape: [2], data_offsets: [0, 2] } }, 2), error: /tensor "w": malformed header entry/ },
  { what: 'overlapping tensors', bytes: () => fileWith({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), error: /tensor "b", field "data_offsets": \[4, 12\] overlap tensor "a" \[0, 8\]/ },
  { what: 'bytes after the last tensor', bytes: () => fileWith({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 12), error: /x\.safetensors: 4 bytes after the last tensor/ },
  { what: 'a file cut inside the header', bytes: () => encodeSafetensors(tensors).subarray(0, 60), error: /x\.safetensors: header length \d+ does not fit in a 60-byte file \(truncated, or not a safetensors file\)/ },
  { what: 'a header that is not an object', bytes: () => fileWith([1, 2], 0), error: /x\.safetensors, header: expected a JSON object of tensors/ },
];

for (const c of DAMAGED) {
  test(`safetensors: ${c.what} is an InputError naming the file and tensor`, () => {
    assert.throws(() => decodeSafetensors(c.bytes(), 'x.safetensors'), (e: unknown) => e instanceof InputError && c.error.test(e.message) || assert.fail(String(e)));
  });
}
