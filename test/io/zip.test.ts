import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZipArchive } from '../../src/io/zip.ts';
import { InputError } from '../../src/util/errors.ts';
import { FIXTURES } from '../_paths.ts';
import { zipStored } from './_zip.ts';

const tmp = await mkdtemp(join(tmpdir(), 'dprep-zip-'));
const BIN = join(FIXTURES, 'trainer', 'torch-bin');

async function write(name: string, bytes: Uint8Array): Promise<string> {
  const f = join(tmp, name);
  await writeFile(f, bytes);
  return f;
}

test('stored entries read back, with an archive comment after the directory', async () => {
  const f = await write('c.zip', zipStored([['a.txt', Buffer.from('alpha')], ['dir/b', new Uint8Array([0, 1, 2, 255])]], 'a comment PK\x05\x06 that looks like a record'));
  const zip = await ZipArchive.open(f);
  assert.deepEqual([...zip.entries.keys()], ['a.txt', 'dir/b']);
  assert.equal(Buffer.from(await zip.read('a.txt')).toString(), 'alpha');
  assert.deepEqual([...(await zip.read('dir/b'))], [0, 1, 2, 255]);
  await assert.rejects(zip.read('nope'), /entry "nope": missing from the zip archive/);
  await zip.close();
});

test('deflate and zip64 archives (written by Python, accepted by torch.load) read the same bytes as the stored original', async () => {
  const original = await ZipArchive.open(join(BIN, 'bert.bin'));
  for (const name of ['deflated.bin', 'zip64.bin']) {
    const zip = await ZipArchive.open(join(BIN, name));
    assert.deepEqual([...zip.entries.keys()].sort(), [...original.entries.keys()].sort(), name);
    for (const entry of original.entries.keys()) assert.deepEqual(await zip.read(entry), await original.read(entry), `${name} ${entry}`);
    await zip.close();
  }
  await original.close();
});

test('unsupported methods and encryption are named per entry', async () => {
  const bytes = Buffer.from(zipStored([['x', Buffer.from('data')]]));
  const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  const lzma = Buffer.from(bytes);
  lzma.writeUInt16LE(14, cd + 10);
  const zip = await ZipArchive.open(await write('lzma.zip', lzma));
  await assert.rejects(zip.read('x'), /entry "x": compression method 14 is not supported/);
  await zip.close();
  const enc = Buffer.from(bytes);
  enc.writeUInt16LE(1, cd + 8);
  await assert.rejects(ZipArchive.open(await write('enc.zip', enc)), (err: unknown) => err instanceof InputError && /entry "x": encrypted/.test(err.message));
});

test('short, truncated and damaged archives are InputErrors', async () => {
  const bytes = Buffer.from(zipStored([['x', Buffer.alloc(100, 1)]]));
  await assert.rejects(ZipArchive.open(await write('tiny.zip', bytes.subarray(0, 10))), /shorter than an end-of-central-directory record/);
  await assert.rejects(ZipArchive.open(await write('cut.zip', bytes.subarray(0, bytes.length - 5))), /no end-of-central-directory record/);
  const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  // The directory claims more data than the file holds.
  const long = Buffer.from(bytes);
  long.writeUInt32LE(5000, cd + 20);
  await assert.rejects(ZipArchive.open(await write('long.zip', long)), /entry "x": data runs past the end of the \d+-byte file: truncated/);
  const badSig = Buffer.from(bytes);
  badSig.writeUInt32LE(0x12345678, cd);
  await assert.rejects(ZipArchive.open(await write('sig.zip', badSig)), /central directory entry 0: bad signature/);
});
