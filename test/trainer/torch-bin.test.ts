import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTorchBin } from '../../src/trainer/torch-bin.ts';
import { ZipArchive } from '../../src/io/zip.ts';
import { InputError } from '../../src/util/errors.ts';
import { FIXTURES } from '../_paths.ts';
import { op, tensorPickle, zipStored } from '../io/_zip.ts';

// Written by test/trainer/reference/make_torch_bin.py with torch.save (PyTorch 1.13).
const DIR = join(FIXTURES, 'trainer', 'torch-bin');
const EXPECTED: Record<string, { tensors: Record<string, { shape: number[]; values: number[] }>; skipped: string[] }> = JSON.parse(
  readFileSync(join(DIR, 'expected.json'), 'utf8'),
);
const tmp = await mkdtemp(join(tmpdir(), 'dprep-torchbin-'));

for (const [file, want] of Object.entries(EXPECTED)) {
  test(`${file} loads with the shapes and float32 values torch computed`, async () => {
    const { tensors, skipped } = await readTorchBin(join(DIR, file));
    assert.deepEqual([...tensors.keys()], Object.keys(want.tensors), 'names, in state-dict order');
    assert.deepEqual(skipped, want.skipped);
    for (const [name, t] of Object.entries(want.tensors)) {
      const got = tensors.get(name)!;
      assert.deepEqual(got.shape, t.shape, name);
      assert.ok(got.data instanceof Float32Array, name);
      // Exact: fp16/bf16/f64→f32 upcasts and strided gathers must reproduce torch's .to(float32) bit for bit.
      assert.deepEqual(Array.from(got.data), t.values, name);
    }
  });
}

test('the fixtures exercise what they are named for', async () => {
  const entries = async (f: string) => [...(await ZipArchive.open(join(DIR, f)).then(async (z) => (await z.close(), z.entries))).values()];
  // shared.bin: two names, one storage (plus the bias) → 2 data entries for 3 tensors
  assert.equal((await entries('shared.bin')).filter((e) => e.name.includes('/data/')).length, 2);
  // views.bin: four views of two storages
  assert.equal((await entries('views.bin')).filter((e) => e.name.includes('/data/')).length, 2);
  assert.ok((await entries('deflated.bin')).some((e) => e.method === 8 && e.compressedSize < e.size));
  assert.equal((await readFile(join(DIR, 'legacy.bin')))[0], 0x80, 'legacy.bin is a pickle stream, not a zip');
  const { tensors } = await readTorchBin(join(DIR, 'shared.bin'));
  assert.deepEqual(tensors.get('cls.predictions.decoder.weight'), tensors.get('embeddings.word_embeddings.weight'));
});

/** Asserts `readTorchBin(bytes)` fails with an InputError naming the file and matching `re`. */
async function rejects(name: string, bytes: Uint8Array, re: RegExp) {
  const file = join(tmp, name);
  await writeFile(file, bytes);
  await assert.rejects(readTorchBin(file), (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.file, file);
    assert.match(err.message, re);
    return true;
  });
}

const bert = await readFile(join(DIR, 'bert.bin'));
const legacy = await readFile(join(DIR, 'legacy.bin'));

/** bert.bin's entries, rewritten into a new zip after `edit`. */
async function rezip(edit: (entries: [string, Uint8Array][]) => [string, Uint8Array][]): Promise<Uint8Array> {
  const zip = await ZipArchive.open(join(DIR, 'bert.bin'));
  const entries: [string, Uint8Array][] = [];
  for (const name of zip.entries.keys()) entries.push([name, await zip.read(name)]);
  await zip.close();
  return zipStored(edit(entries));
}

test('truncated files are refused', async () => {
  await rejects('half.bin', bert.subarray(0, bert.length >> 1), /no end-of-central-directory record: not a zip archive, or truncated/);
  await rejects('tail.bin', bert.subarray(0, bert.length - 30), /truncated/);
  await rejects('legacy-cut.bin', legacy.subarray(0, legacy.length - 10), /storage "\d+".*truncated/);
  await rejects('legacy-cut2.bin', legacy.subarray(0, 200), /pickle 4.*truncated/);
  await rejects('empty.bin', new Uint8Array(8), /not a torch\.save file/);
});

test('a flipped byte is caught by the entry CRC, naming the entry', async () => {
  const zip = await ZipArchive.open(join(DIR, 'bert.bin'));
  const e = zip.entries.get('bert/data/0')!;
  await zip.close();
  const local = new DataView(bert.buffer, bert.byteOffset + e.localHeaderOffset);
  const start = e.localHeaderOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  const bad = Uint8Array.from(bert);
  bad[start + 5] ^= 0x10;
  await rejects('flipped.bin', bad, /entry "bert\/data\/0".*CRC-32 mismatch/);
  const badPkl = Uint8Array.from(bert);
  badPkl[e.localHeaderOffset - 200] ^= 0x01; // inside data.pkl, the first entry
  await rejects('flipped-pkl.bin', badPkl, /entry "bert\/data\.pkl".*CRC-32 mismatch/);
});

test('a zip that is not a torch checkpoint is refused', async () => {
  await rejects('plain.zip', zipStored([['hello.txt', Buffer.from('hi')]]), /without <archive>\/data\.pkl/);
  await rejects('garbage.bin', Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100, 7)]), /no end-of-central-directory/);
});

test('a pickle calling a disallowed global (os.system) is refused, not run', async () => {
  const evil = Uint8Array.from([...op.proto, ...op.global('os', 'system'), ...op.str('touch pwned'), 0x85, ...op.reduce, ...op.stop]);
  await rejects('evil.bin', zipStored([['archive/data.pkl', evil], ['archive/version', Buffer.from('3\n')]]), /entry "archive\/data\.pkl".*global os\.system is not allowed/);
  // Also as a pre-1.6 stream (after the magic number, protocol and sys-info pickles of legacy.bin).
  const lead = legacy.subarray(0, legacy.indexOf(Buffer.from('collections')) - 3);
  await rejects('evil-legacy.bin', Buffer.concat([lead, evil]), /pickle 4.*global os\.system is not allowed/);
  // Names that exist on every JS object are not storage types either.
  await rejects('proto.bin', pkl1([{ name: 'w', type: 'constructor', key: '0', numel: 6, size: [6], stride: [1] }]), /global torch\.constructor is not allowed/);
  const builtins = Uint8Array.from([...op.proto, ...op.global('builtins', 'eval'), ...op.stop]);
  await rejects('eval.bin', zipStored([['x/data.pkl', builtins]]), /global builtins\.eval is not allowed/);
});

const pkl1 = (t: Parameters<typeof tensorPickle>[0], str?: (s: string) => number[]) =>
  zipStored([['m/data.pkl', tensorPickle(t, str)], ['m/data/0', new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)]]);

test('a pickle written by Python 2 (SHORT_BINSTRING names and keys) loads', async () => {
  const f = join(tmp, 'py2.bin');
  await writeFile(f, pkl1([{ name: 'w', key: '0', numel: 6, offset: 1, size: [2, 2], stride: [1, 2] }], op.py2str));
  const { tensors } = await readTorchBin(f);
  assert.deepEqual(tensors.get('w'), { shape: [2, 2], data: Float32Array.from([2, 4, 3, 5]) });
});

test('unknown opcodes, missing storages and out-of-range views name the entry or tensor', async () => {
  const unknown = Uint8Array.from([...op.proto, ...op.dict, 0xff, ...op.stop]);
  await rejects('opcode.bin', zipStored([['a/data.pkl', unknown]]), /entry "a\/data\.pkl".*opcode 0xff at byte 3/);
  await rejects('nokey.bin', await rezip((es) => es.filter(([n]) => n !== 'bert/data/3')), /tensor "[^"]+".*storage entry "bert\/data\/3" is missing/);
  const pkl = (t: Parameters<typeof tensorPickle>[0]) => zipStored([['m/data.pkl', tensorPickle(t)], ['m/data/0', new Uint8Array(24)]]);
  // A 6-element storage: [2,3] contiguous fits, [3,3] and an offset view past the end do not.
  const ok = await (async () => {
    const f = join(tmp, 'ok.bin');
    await writeFile(f, pkl([{ name: 'w', key: '0', numel: 6, size: [2, 3], stride: [3, 1] }]));
    return readTorchBin(f);
  })();
  assert.deepEqual(ok.tensors.get('w')!.shape, [2, 3], 'the hand-written pickle itself is valid');
  await rejects('past.bin', pkl([{ name: 'w', key: '0', numel: 6, size: [3, 3], stride: [3, 1] }]), /tensor "w".*reach element 8, past the end of storage "0" \(6 elements\)/);
  await rejects('offset.bin', pkl([{ name: 'w', key: '0', numel: 6, offset: 4, size: [3], stride: [1] }]), /tensor "w".*past the end/);
  await rejects('expanded.bin', pkl([{ name: 'w', key: '0', numel: 6, size: [70000, 70000], stride: [0, 0] }]), /tensor "w".*4900000000 elements, more than one Float32Array holds/);
  await rejects('numel.bin', pkl([{ name: 'w', key: '0', numel: 5, size: [5], stride: [1] }]), /tensor "w".*storage "0" holds 24 bytes.*need 20/);
  await rejects('dtype.bin', pkl([{ name: 'w', type: 'ComplexFloatStorage', key: '0', numel: 3, size: [3], stride: [1] }]), /global torch\.ComplexFloatStorage is not allowed/);
  const notTensor = Uint8Array.from([...op.proto, ...op.dict, ...op.str('epoch'), ...op.int(3), ...op.setitem, ...op.stop]);
  await rejects('ckpt.bin', zipStored([['c/data.pkl', notTensor]]), /entry "epoch".*not a tensor/);
  const cut = tensorPickle([{ name: 'w', key: '0', numel: 6, size: [6], stride: [1] }]).subarray(0, 40);
  await rejects('cutpkl.bin', zipStored([['c/data.pkl', cut]]), /entry "c\/data\.pkl".*truncated/);
});

test('the archive folder name comes from the entries', async () => {
  const f = join(tmp, 'renamed.bin');
  await writeFile(f, await rezip((es) => es.map(([n, d]) => [n.replace(/^bert\//, 'archive/'), d])));
  const { tensors } = await readTorchBin(f);
  const want = EXPECTED['bert.bin'].tensors['embeddings.word_embeddings.weight'];
  assert.deepEqual(Array.from(tensors.get('embeddings.word_embeddings.weight')!.data), want.values);
});
