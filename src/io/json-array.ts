/**
 * Streams the elements of a top-level JSON array without loading the file: a byte scanner
 * finds where each element ends (tracking strings and nesting), and only that slice is parsed.
 * Memory holds one element at a time, so a 7.4 GB DPR train file converts in constant memory.
 */
import { decodeUtf8, openByteStream, type OnBadRecord } from './lines.ts';
import { InputError } from '../util/errors.ts';

const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;
const BOM = [0xef, 0xbb, 0xbf];

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
 * Truncated or malformed JSON (or invalid UTF-8) raises an InputError naming the element
 * (`[index]`); with `onBad`, a malformed element is reported and left out (the scanner knows
 * where it ends), and a truncated last one is reported and ends the array.
 *
 * @example
 * for await (const { index, value } of readJsonArray('biencoder-nq-train.json')) { ... }
 */
export async function* readJsonArray(file: string, onRawBytes?: (n: number) => void, onBad?: OnBadRecord): AsyncGenerator<ArrayElement> {
  yield* scanJsonArray((await openByteStream(file, onRawBytes)) as AsyncIterable<Buffer>, file, onBad);
}

/**
 * The scanner behind `readJsonArray`, over any chunking of the bytes (`file` only names errors).
 * Element boundaries may fall anywhere in the chunks, even inside a UTF-8 sequence or an escape.
 *
 * @example
 * for await (const { value } of scanJsonArray([Buffer.from('[1,'), Buffer.from('2]')], 'mem')) ...
 */
export async function* scanJsonArray(input: AsyncIterable<Buffer> | Iterable<Buffer>, file: string, onBad?: OnBadRecord): AsyncGenerator<ArrayElement> {
  // Scanner state, kept across chunks.
  let started = false; // seen the opening '['
  let ended = false; // seen the closing ']'
  let depth = 0; // nesting depth inside the current element
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = []; // bytes of the current element from earlier chunks
  let inElement = false;
  let index = 0;
  let bomMatched = 0; // bytes of a leading UTF-8 BOM seen so far; -1 once past it
  let expectValue = true; // after '[' or ',' a value must come

  const BAD = Symbol('bad');
  const parse = (bytes: Buffer): unknown => {
    try {
      const text = decodeUtf8(bytes, file, `record [${index}]`);
      try {
        return JSON.parse(text);
      } catch (err) {
        throw new InputError(file, `record [${index}]`, undefined, `invalid JSON (${(err as Error).message})`);
      }
    } catch (err) {
      if (!onBad || !(err instanceof InputError)) throw err;
      onBad(err);
      return BAD;
    }
  };

  for await (const chunk of input) {
    const buf = chunk;
    let i = 0;
    // A BOM is only a BOM at file offset 0; chunks may be as small as one byte, so match it bytewise.
    while (bomMatched >= 0 && bomMatched < 3 && i < buf.length) {
      if (buf[i] !== BOM[bomMatched]) {
        if (bomMatched > 0) throw new InputError(file, undefined, undefined, 'expected a JSON array (the file starts with a broken byte order mark)');
        break;
      }
      bomMatched++;
      i++;
    }
    if (i < buf.length) bomMatched = -1;
    let elementStart = inElement ? 0 : -1;
    const n = buf.length;
    // Next quote / backslash at or after i, cached so each is searched once per chunk: searching
    // afresh at every string would rescan to the chunk end when one of them is rare (quadratic).
    let nextQuote = -1;
    let nextBackslash = -1;
    while (i < n) {
      if (inString) {
        if (escaped) {
          escaped = false;
          i++;
          continue;
        }
        if (nextQuote < i) {
          nextQuote = buf.indexOf(QUOTE, i);
          if (nextQuote < 0) nextQuote = n;
        }
        if (nextBackslash < i) {
          nextBackslash = buf.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = n;
        }
        if (nextBackslash < nextQuote) {
          escaped = true;
          i = nextBackslash + 1;
          continue;
        }
        if (nextQuote === n) {
          i = n;
          break;
        }
        inString = false;
        i = nextQuote + 1;
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
          const value = parse(concat(parts, buf, elementStart, i));
          if (value !== BAD) yield { index, value };
          index++;
          parts = [];
          inElement = false;
          continue; // re-read ']' as the end of the array
        }
        depth--;
        if (depth === 0) {
          const value = parse(concat(parts, buf, elementStart, i + 1));
          if (value !== BAD) yield { index, value };
          index++;
          parts = [];
          inElement = false;
          i++;
          continue;
        }
      } else if (b === COMMA && depth === 0) {
        const value = parse(concat(parts, buf, elementStart, i));
        if (value !== BAD) yield { index, value };
        index++;
        parts = [];
        inElement = false;
        continue; // re-read ',' as the separator
      }
      i++;
    }
    if (inElement) parts.push(buf.subarray(elementStart));
  }
  if (!started) throw new InputError(file, undefined, undefined, 'empty file: expected a JSON array');
  if (!ended) {
    const err = new InputError(file, `record [${index}]`, undefined, inElement ? 'truncated JSON: the file ends inside this record' : 'truncated JSON: the array is not closed with "]"');
    if (!onBad) throw err;
    onBad(err);
  }
}

function concat(parts: Buffer[], buf: Buffer, start: number, end: number): Buffer {
  const tail = buf.subarray(start, end);
  return parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
}
