/**
 * Streams the elements of a top-level JSON array without loading the file: a byte scanner
 * finds where each element ends (tracking strings and nesting), and only that slice is parsed.
 * Memory holds one element at a time, so a 7.4 GB DPR train file converts in constant memory.
 */
import { openByteStream } from './lines.ts';
import { InputError } from '../util/errors.ts';

const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export interface ArrayElement {
  /** 0-based position in the array. */
  index: number;
  value: unknown;
}

/**
 * Yields each element of the JSON array in `file` (gzip accepted; a UTF-8 BOM is ignored).
 * Truncated or malformed JSON raises an InputError naming the element (`[index]`).
 *
 * @example
 * for await (const { index, value } of readJsonArray('biencoder-nq-train.json')) { ... }
 */
export async function* readJsonArray(file: string, onRawBytes?: (n: number) => void): AsyncGenerator<ArrayElement> {
  const input = await openByteStream(file, onRawBytes);
  // Scanner state, kept across chunks.
  let started = false; // seen the opening '['
  let ended = false; // seen the closing ']'
  let depth = 0; // nesting depth inside the current element
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = []; // bytes of the current element from earlier chunks
  let inElement = false;
  let index = 0;
  let bomChecked = false;
  let expectValue = true; // after '[' or ',' a value must come

  const parse = (bytes: Buffer): unknown => {
    const text = bytes.toString('utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InputError(file, `record [${index}]`, undefined, `invalid JSON (${(err as Error).message})`);
    }
  };

  for await (const chunk of input as AsyncIterable<Buffer>) {
    let buf = chunk;
    let i = 0;
    if (!bomChecked && buf.length >= 3) {
      bomChecked = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
    }
    let elementStart = inElement ? 0 : -1;
    const n = buf.length;
    while (i < n) {
      if (inString) {
        // Jump to the next quote or backslash: strings are most of a DPR file.
        const q = buf.indexOf(QUOTE, i);
        const bs = escaped ? i : buf.indexOf(BACKSLASH, i);
        if (escaped) {
          escaped = false;
          i++;
          continue;
        }
        if (q < 0 && bs < 0) {
          i = n;
          break;
        }
        if (bs >= 0 && (q < 0 || bs < q)) {
          escaped = true;
          i = bs + 1;
          continue;
        }
        inString = false;
        i = q + 1;
        continue;
      }
      const b = buf[i];
      if (!started) {
        if (isSpace(b)) {
          i++;
          continue;
        }
        if (b !== OPEN_BRACKET) throw new InputError(file, undefined, undefined, 'expected a JSON array (the file does not start with "[")');
        started = true;
        i++;
        continue;
      }
      if (ended) {
        if (!isSpace(b)) throw new InputError(file, undefined, undefined, `unexpected content after the closing "]" of the array`);
        i++;
        continue;
      }
      if (!inElement) {
        if (isSpace(b)) {
          i++;
          continue;
        }
        if (b === CLOSE_BRACKET && (index === 0 || !expectValue)) {
          ended = true;
          i++;
          continue;
        }
        if (b === COMMA && !expectValue) {
          expectValue = true;
          i++;
          continue;
        }
        if (!expectValue || b === COMMA || b === CLOSE_BRACKET) {
          throw new InputError(file, `record [${index}]`, undefined, `invalid JSON: unexpected "${String.fromCharCode(b)}" between array elements`);
        }
        inElement = true;
        expectValue = false;
        elementStart = i;
        depth = 0;
      }
      // Inside an element, outside strings.
      if (b === QUOTE) {
        inString = true;
        i++;
        continue;
      }
      if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (depth === 0) {
          // A scalar element ends at the array's closing bracket.
          yield { index, value: parse(concat(parts, buf, elementStart, i)) };
          index++;
          parts = [];
          inElement = false;
          continue; // re-read ']' as the end of the array
        }
        depth--;
        if (depth === 0) {
          yield { index, value: parse(concat(parts, buf, elementStart, i + 1)) };
          index++;
          parts = [];
          inElement = false;
          i++;
          continue;
        }
      } else if (b === COMMA && depth === 0) {
        yield { index, value: parse(concat(parts, buf, elementStart, i)) };
        index++;
        parts = [];
        inElement = false;
        continue; // re-read ',' as the separator
      }
      i++;
    }
    if (inElement) parts.push(buf.subarray(elementStart));
    buf = Buffer.alloc(0);
  }
  if (!started) throw new InputError(file, undefined, undefined, 'empty file: expected a JSON array');
  if (!ended) {
    throw new InputError(file, `record [${index}]`, undefined, inElement ? 'truncated JSON: the file ends inside this record' : 'truncated JSON: the array is not closed with "]"');
  }
}

function concat(parts: Buffer[], buf: Buffer, start: number, end: number): Buffer {
  const tail = buf.subarray(start, end);
  return parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
}
