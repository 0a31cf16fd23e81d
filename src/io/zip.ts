/**
 * A read-only zip reader for the containers `torch.save` writes (PKWARE APPNOTE: local headers,
 * central directory, end-of-central-directory record; zip64 records and extra fields for archives
 * or entries past 4 GB). Entries are read one at a time from a file handle at their offset, so an
 * archive larger than memory can be opened and only the entries asked for are loaded.
 * Methods: stored (what torch writes) and deflate (what a re-zipped checkpoint may use).
 */
import { open, type FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { constants } from 'node:buffer';
import { InputError } from '../util/errors.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

/** An opened archive: its entries by name, each read (and CRC-checked) on demand. */
export class ZipArchive {
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  /**
   * Opens `file` and reads its central directory.
   * @example const zip = await ZipArchive.open('pytorch_model.bin'); const pkl = await zip.read('archive/data.pkl'); await zip.close();
   */
  static async open(file: string): Promise<ZipArchive> {
    const fh = await open(file, 'r');
    try {
      return new ZipArchive(file, fh, await readCentralDirectory(file, fh));
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The uncompressed bytes of entry `name`; an InputError naming the entry when absent, damaged or of an unknown method. */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entries.get(name);
    if (!e) throw new InputError(this.file, `entry "${name}"`, undefined, 'missing from the zip archive');
    const where = `entry "${name}"`;
    if (Math.max(e.size, e.compressedSize) > constants.MAX_LENGTH) throw new InputError(this.file, where, undefined, `${e.size} bytes: larger than one Node.js buffer can hold (${constants.MAX_LENGTH})`);
    const local = await readAt(this.fh, e.localHeaderOffset, 30, this.file, where);
    const dv = view(local);
    if (dv.getUint32(0, true) !== LOCAL) throw new InputError(this.file, where, undefined, `no local file header at byte ${e.localHeaderOffset}`);
    // The local extra field can differ from the central one (torch pads it to align data to 64 bytes).
    const start = e.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    const raw = await readAt(this.fh, start, e.compressedSize, this.file, where);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = zlib.inflateRawSync(raw);
      } catch (err) {
        throw new InputError(this.file, where, undefined, `damaged deflate data (${(err as Error).message})`);
      }
    } else throw new InputError(this.file, where, undefined, `compression method ${e.method} is not supported (only stored and deflate)`);
    if (data.length !== e.size) throw new InputError(this.file, where, undefined, `${data.length} bytes, the directory says ${e.size}`);
    if (crc32(data) !== e.crc32) throw new InputError(this.file, where, undefined, 'CRC-32 mismatch: the file is damaged');
    return data;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

async function readAt(fh: FileHandle, pos: number, len: number, file: string, where?: string): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new InputError(file, where, undefined, `truncated: wanted ${len} bytes at byte ${pos}, the file ends first`);
    got += bytesRead;
  }
  return buf;
}

/** Reads a 64-bit little-endian size or offset as a number (exact below 2^53, far past any file). */
function u64(dv: DataView, at: number): number {
  return Number(dv.getBigUint64(at, true));
}

async function readCentralDirectory(file: string, fh: FileHandle): Promise<Map<string, ZipEntry>> {
  const { size } = await fh.stat();
  if (size < 22) throw new InputError(file, undefined, undefined, `not a zip archive (${size} bytes, shorter than an end-of-central-directory record)`);
  // The EOCD record is the last 22 bytes plus a comment of at most 65535 bytes: scan back for it.
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = await readAt(fh, size - tailLen, tailLen, file);
  const tv = view(tail);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD && i + 22 + tv.getUint16(i + 20, true) === tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new InputError(file, undefined, undefined, 'no end-of-central-directory record: not a zip archive, or truncated');
  let count = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);
  if (count === 0xffff || cdSize === MAX32 || cdOffset === MAX32) {
    const eocdPos = size - tailLen + at;
    if (eocdPos < 20) throw new InputError(file, undefined, undefined, 'zip64 markers without a zip64 locator');
    const loc = view(await readAt(fh, eocdPos - 20, 20, file));
    if (loc.getUint32(0, true) !== ZIP64_LOCATOR) throw new InputError(file, undefined, undefined, 'zip64 markers without a zip64 locator');
    const z64Pos = u64(loc, 8);
    const z = view(await readAt(fh, z64Pos, 56, file, 'zip64 end of central directory'));
    if (z.getUint32(0, true) !== ZIP64_EOCD) throw new InputError(file, undefined, undefined, `no zip64 end-of-central-directory record at byte ${z64Pos}`);
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  if (cdOffset + cdSize > size) throw new InputError(file, undefined, undefined, `central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end of the ${size}-byte file: truncated`);
  const cd = await readAt(fh, cdOffset, cdSize, file, 'central directory');
  const dv = view(cd);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || dv.getUint32(p, true) !== CENTRAL) throw new InputError(file, `central directory entry ${n}`, undefined, `bad signature at byte ${cdOffset + p}`);
    const flags = dv.getUint16(p + 8, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    const e: ZipEntry = {
      name,
      method: dv.getUint16(p + 10, true),
      crc32: dv.getUint32(p + 16, true),
      compressedSize: dv.getUint32(p + 20, true),
      size: dv.getUint32(p + 24, true),
      localHeaderOffset: dv.getUint32(p + 42, true),
    };
    if (flags & 1) throw new InputError(file, `entry "${name}"`, undefined, 'encrypted zip entries are not supported');
    readZip64Extra(cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), e, file);
    if (e.localHeaderOffset + 30 + e.compressedSize > size) throw new InputError(file, `entry "${name}"`, undefined, `data runs past the end of the ${size}-byte file: truncated`);
    entries.set(name, e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Zip64 extra field (id 1): 64-bit values, present only for the 32-bit fields set to 0xFFFFFFFF, in this order. */
function readZip64Extra(extra: Uint8Array, e: ZipEntry, file: string): void {
  const dv = view(extra);
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = dv.getUint16(p, true);
    const len = dv.getUint16(p + 2, true);
    if (id === 1) {
      let q = p + 4;
      const next = (): number => {
        if (q + 8 > p + 4 + len) throw new InputError(file, `entry "${e.name}"`, undefined, 'zip64 extra field too short');
        const v = u64(dv, q);
        q += 8;
        return v;
      };
      if (e.size === MAX32) e.size = next();
      if (e.compressedSize === MAX32) e.compressedSize = next();
      if (e.localHeaderOffset === MAX32) e.localHeaderOffset = next();
      return;
    }
    p += 4 + len;
  }
}

let table: Int32Array | undefined;

/** CRC-32 (zip's polynomial); node:zlib has one from Node 20.15, older 20.x use the table version. */
function crc32(data: Uint8Array): number {
  if (typeof (zlib as { crc32?: unknown }).crc32 === 'function') return zlib.crc32(data) >>> 0;
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
