/**
 * Tab-separated values with CSV quoting, as Python's csv module writes them (DPR's qa files,
 * psgs_w100.tsv): a field holding a tab, quote or line break is wrapped in quotes with inner
 * quotes doubled. Splitting on tabs alone breaks such lines, so parse them.
 */
import { readLines, type OnBadRecord } from './lines.ts';
import { InputError } from '../util/errors.ts';

/** Parses one TSV record; returns null when a quoted field is still open (the record continues on the next line). */
export function parseTsvRecord(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  while (true) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (true) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Python's csv keeps text after a closing quote as part of the field.
      const tab = line.indexOf('\t', i);
      value += tab < 0 ? line.slice(i) : line.slice(i, tab);
      fields.push(value);
      if (tab < 0) return fields;
      i = tab + 1;
    } else {
      const tab = line.indexOf('\t', i);
      if (tab < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, tab));
      i = tab + 1;
    }
  }
}

/** Quotes a field the way Python's csv.writer (QUOTE_MINIMAL, tab delimiter) does. */
export function formatTsvField(value: string): string {
  return /[\t"\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export interface TsvRow {
  /** Line number where the record starts (1-based). */
  lineNo: number;
  fields: string[];
}

/** Streams TSV records; quoted fields may span lines. Blank lines are skipped. `onBad`: see readLines. */
export async function* readTsv(file: string, onRawBytes?: (n: number) => void, onBad?: OnBadRecord): AsyncGenerator<TsvRow> {
  let pending: string | null = null;
  let startLine = 0;
  // Lines come with the CR of a CRLF: it ends the record, unless a quoted field is still open and holds it.
  for await (const { lineNo, text } of readLines(file, onRawBytes, onBad, true)) {
    const line: string = pending === null ? text : `${pending}\n${text}`;
    if (pending === null) startLine = lineNo;
    const record = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (record === '') continue;
    const fields = parseTsvRecord(record);
    if (fields === null) {
      pending = line;
      continue;
    }
    pending = null;
    yield { lineNo: startLine, fields };
  }
  if (pending !== null) {
    const err = new InputError(file, `line ${startLine}`, undefined, 'unterminated quoted field at end of file');
    if (!onBad) throw err;
    onBad(err);
  }
}
