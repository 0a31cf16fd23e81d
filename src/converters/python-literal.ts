/**
 * Reads the Python list-of-strings literals in DPR's qa files (`['Solange Knowles', "Destiny 's Child"]`)
 * without eval: a small parser for exactly what `repr(list_of_str)` and hand-written lists produce —
 * single, double and triple quotes, u/r/b-less prefixes u and r, adjacent-literal concatenation, and
 * every escape Python's string literals define.
 */

/** A literal that does not parse; `offset` is the character position in the source. */
export class PythonLiteralError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at character ${offset}`);
    this.name = 'PythonLiteralError';
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/**
 * Parses a Python list of string literals, as `ast.literal_eval` would (strings only).
 *
 * @example
 * parsePythonStringList(`['Sandra Day O\\'Connor', "Destiny 's Child"]`) // ["Sandra Day O'Connor", "Destiny 's Child"]
 */
export function parsePythonStringList(src: string): string[] {
  // Python refuses source holding a NUL anywhere (found by bench/fuzz.ts).
  const nul = src.indexOf('\0');
  if (nul >= 0) throw new PythonLiteralError('a NUL character', nul);
  let i = 0;
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  skipSpace();
  if (src[i] !== '[') throw new PythonLiteralError('expected "[" starting a list', i);
  i++;
  const items: string[] = [];
  skipSpace();
  if (src[i] === ']') {
    i++;
  } else {
    while (true) {
      skipSpace();
      if (!isStringStart(src, i)) throw new PythonLiteralError('expected a string literal', i);
      // Adjacent literals concatenate in Python: 'a' "b" == 'ab'.
      let value = '';
      while (isStringStart(src, i)) {
        const lit = readStringLiteral(src, i);
        value += lit.value;
        i = lit.end;
        skipSpace();
      }
      items.push(value);
      if (src[i] === ',') {
        i++;
        skipSpace();
        if (src[i] === ']') {
          i++;
          break;
        }
        continue;
      }
      if (src[i] === ']') {
        i++;
        break;
      }
      throw new PythonLiteralError(i >= src.length ? 'list not closed with "]"' : `expected "," or "]", got "${src[i]}"`, i);
    }
  }
  skipSpace();
  if (i < src.length) throw new PythonLiteralError('unexpected text after the list', i);
  return items;
}

function isStringStart(src: string, i: number): boolean {
  const c = src[i];
  if (c === "'" || c === '"') return true;
  if (c === 'u' || c === 'U' || c === 'r' || c === 'R') {
    const d = src[i + 1];
    return d === "'" || d === '"';
  }
  return false;
}

/** Reads one string literal starting at `start` (prefix included); returns its value and end offset. */
function readStringLiteral(src: string, start: number): { value: string; end: number } {
  let i = start;
  let raw = false;
  if (/[uUrR]/.test(src[i])) {
    raw = src[i] === 'r' || src[i] === 'R';
    i++;
  }
  const q = src[i];
  const triple = src[i + 1] === q && src[i + 2] === q;
  const delim = triple ? q.repeat(3) : q;
  i += delim.length;
  let value = '';
  while (true) {
    if (i >= src.length) throw new PythonLiteralError('string literal not closed', start);
    const c = src[i];
    if (src.startsWith(delim, i)) return { value, end: i + delim.length };
    if (!triple && (c === '\n' || c === '\r')) throw new PythonLiteralError('line break inside a string literal', i);
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined) throw new PythonLiteralError('string literal not closed', start);
    if (raw) {
      // Raw strings keep the backslash; it still stops the next quote from closing the string.
      value += c + e;
      i += 2;
      continue;
    }
    if (e in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[e];
      i += 2;
    } else if (e === '\n') {
      i += 2; // backslash-newline: line continuation
    } else if (e === '\r') {
      i += src[i + 2] === '\n' ? 3 : 2;
    } else if (e >= '0' && e <= '7') {
      let j = i + 1;
      while (j < i + 4 && src[j] >= '0' && src[j] <= '7') j++;
      value += String.fromCharCode(parseInt(src.slice(i + 1, j), 8));
      i = j;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = src.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new PythonLiteralError(`truncated \\${e} escape`, i);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw new PythonLiteralError(`\\U escape beyond U+10FFFF`, i);
      value += String.fromCodePoint(code);
      i += 2 + len;
    } else if (e === 'N') {
      throw new PythonLiteralError('\\N{name} escapes are not supported', i);
    } else {
      // Python keeps unknown escapes as written: '\d' is backslash + d.
      value += c + e;
      i += 2;
    }
  }
}
