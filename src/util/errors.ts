/**
 * Bad input that stops a command: names the file, the record (line number or JSON path)
 * and the field, and says what was expected.
 * @example
 * throw new InputError('train.jsonl', 'line 12', 'answers', 'expected an array of strings');
 * // message: train.jsonl, line 12, field "answers": expected an array of strings
 */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly record: string | undefined,
    readonly field: string | undefined,
    readonly problem: string,
  ) {
    super(formatLocation(file, record, field) + problem);
    this.name = 'InputError';
  }
}

/**
 * A user mistake in options or a pipeline file (not in a data file); the CLI exits 2 on it.
 * @example throw new UsageError('--depth must be at least 1, got 0');
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function formatLocation(file: string, record?: string, field?: string): string {
  let s = file;
  if (record !== undefined) s += `, ${record}`;
  if (field !== undefined) s += `, field "${field}"`;
  return s + ': ';
}
