/**
 * Writes a DPR biencoder JSON array of about SIZE_MB megabytes for the conversion benchmark and the
 * streaming test: the 5 real records of the Haystack DPR sample, repeated with numbered questions
 * (about 108 KB per record, like biencoder-nq-train.json's 7.4 GB / 58,880 records).
 *
 * Usage: node --import tsx bench/convert-nq-gen.ts OUT.json SIZE_MB
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export async function writeDprArray(out: string, sizeMb: number, sample: string): Promise<{ records: number; bytes: number }> {
  const records = JSON.parse(readFileSync(sample, 'utf8')) as Record<string, unknown>[];
  const stream = createWriteStream(out);
  const target = sizeMb * 1e6;
  let bytes = 0;
  let n = 0;
  const put = async (s: string) => {
    bytes += Buffer.byteLength(s);
    if (!stream.write(s)) await once(stream, 'drain');
  };
  await put('[\n');
  while (bytes < target) {
    const r = records[n % records.length];
    await put((n ? ',\n' : '') + JSON.stringify({ ...r, question: `${r.question as string} #${n}` }));
    n++;
  }
  await put('\n]\n');
  stream.end();
  await once(stream, 'close');
  return { records: n, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, size] = process.argv.slice(2);
  const sample = new URL('../../shared/data/nq/dpr_biencoder/haystack_dpr_sample.json', import.meta.url);
  const { records, bytes } = await writeDprArray(out, Number(size), fileURLToPath(sample));
  console.log(JSON.stringify({ out, records, bytes }));
}
