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
