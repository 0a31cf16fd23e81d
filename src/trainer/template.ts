/**
 * Input templates: how a query or passage becomes the one text an encoder sees, e.g.
 * OpenMatch's `Title: {title} Text: {text}`, E5's `query: {text}` / `passage: {title} {text}`,
 * BGE's `Represent this sentence for searching relevant passages: {text}` (queries only).
 *
 * Fields are `{title}` and `{text}`; `{{` and `}}` are literal braces. `{text}` is required.
 * A templated input is tokenized as ONE sequence (the tokenizer's single template adds the
 * specials); without a template the DPR pair `[CLS] title [SEP] text [SEP]` is kept.
 *
 * Empty fields: an empty (or absent) field also drops the whitespace right after it — or, when
 * the field ends the template, the whitespace right before it — so `passage: {title} {text}`
 * with no title renders `passage: x`, as E5's own code does (`f"{title} {text}".strip()`).
 * OpenMatch renders `Title:  Text: x` literally; dprep renders `Title: Text: x`. WordPiece
 * tokenizers and camembert's normalizer (spaces collapsed) see no difference; byte-level BPE
 * (RoBERTa) would get an extra `Ġ` token.
 */
import type { OptionsSpec } from '../options.ts';
import type { EncodeInput } from '../types.ts';
import { InputError, UsageError } from '../util/errors.ts';

export type TemplateField = 'title' | 'text';
type Part = { literal: string } | { field: TemplateField };

/** A parsed template; `source` is the string the user gave (what is stored with the encoder). */
export interface InputTemplate {
  readonly source: string;
  readonly parts: readonly Part[];
  /** The template reads `{title}`: passages keep their titles. */
  readonly usesTitle: boolean;
}

const FIELDS: readonly TemplateField[] = ['title', 'text'];

/** Recommended templates, for option help and docs. */
export const KNOWN_TEMPLATES = {
  e5: { query: 'query: {text}', passage: 'passage: {title} {text}' },
  openmatch: { query: '{text}', passage: 'Title: {title} Text: {text}' },
  /** BGE's English models instruct queries only; passages go in as they are. */
  bgeEn: { query: 'Represent this sentence for searching relevant passages: {text}' },
} as const;

/**
 * Parses a template; `option` names where it came from (e.g. `--query-template`) for the error.
 * @example parseTemplate('Title: {title} Text: {text}', '--passage-template').usesTitle // true
 */
export function parseTemplate(source: string, option: string): InputTemplate {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if ((ch === '{' || ch === '}') && source[i + 1] === ch) {
      literal += ch;
      i++;
    } else if (ch === '{') {
      const end = source.indexOf('}', i);
      const name = end < 0 ? '' : source.slice(i + 1, end);
      if (end < 0 || name.includes('{')) throw new UsageError(`${option}: unclosed "{" at character ${i + 1} of ${JSON.stringify(source)} (write "{{" for a literal brace)`);
      if (!(FIELDS as readonly string[]).includes(name)) {
        throw new UsageError(`${option}: unknown field {${name}} in ${JSON.stringify(source)}; expected {title} or {text}`);
      }
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ field: name as TemplateField });
      i = end;
    } else if (ch === '}') {
      throw new UsageError(`${option}: unmatched "}" at character ${i + 1} of ${JSON.stringify(source)} (write "}}" for a literal brace)`);
    } else literal += ch;
  }
  if (literal) parts.push({ literal });
  if (!parts.some((p) => 'field' in p && p.field === 'text')) {
    throw new UsageError(`${option}: template ${JSON.stringify(source)} has no {text}; every input needs its text (e.g. "query: {text}")`);
  }
  return { source, parts, usesTitle: parts.some((p) => 'field' in p && p.field === 'title') };
}

/**
 * The text one input becomes under a template (see the module comment for empty fields).
 * @example renderTemplate(parseTemplate('passage: {title} {text}', 'x'), { text: 'Paris.' }) // 'passage: Paris.'
 */
export function renderTemplate(template: InputTemplate, input: EncodeInput): string {
  const { parts } = template;
  const values = parts.map((p) => ('field' in p ? (p.field === 'title' ? input.title ?? '' : input.text) : p.literal));
  for (let i = 0; i < parts.length; i++) {
    if (!('field' in parts[i]) || values[i] !== '') continue;
    const next = i + 1 < parts.length ? i + 1 : -1;
    if (next >= 0 && 'literal' in parts[next]) values[next] = values[next].replace(/^\s+/, '');
    else if (next < 0 && i > 0 && 'literal' in parts[i - 1]) values[i - 1] = values[i - 1].replace(/\s+$/, '');
  }
  return values.join('');
}

/**
 * The template of a sentence-transformers prompt (text prepended to the input), braces escaped.
 * @example prefixTemplate('query: ') // 'query: {text}'; prefixTemplate('passage: ', true) // 'passage: {title} {text}'
 */
export function prefixTemplate(prefix: string, withTitle = false): string {
  return prefix.replace(/[{}]/g, (b) => b + b) + (withTitle ? '{title} {text}' : '{text}');
}

/** The query and passage templates stored with an encoder (`dprep_encoder.json`), parsed; undefined: DPR inputs. */
export function storedTemplate(
  settings: { query_template?: string | null; passage_template?: string | null },
  role: 'query' | 'passage',
  file: string,
): InputTemplate | undefined {
  const field = `${role}_template` as const;
  const source = settings[field];
  if (source === undefined || source === null) return undefined;
  if (typeof source !== 'string') throw new InputError(file, undefined, field, `expected a template string, got ${JSON.stringify(source)}`);
  try {
    return parseTemplate(source, field);
  } catch (err) {
    throw err instanceof UsageError ? new InputError(file, undefined, field, err.message.slice(field.length + 2)) : err;
  }
}

/** Where a role's template can come from, strongest first (see resolveTemplate). */
export interface TemplateSources {
  /** The --query-template / --passage-template value, if given. */
  option?: string;
  /** What the encoder dir stores (dprep_encoder.json) and that file's path, for errors. */
  stored?: { query_template?: string | null; passage_template?: string | null };
  storedFile?: string;
  /** The sentence-transformers prompt of this role, when the model dir is one (st-dir.ts); '' for none. */
  stPrefix?: string;
  /** Passages keep their titles (`{title} {text}` after an ST prompt). */
  embedTitle?: boolean;
}

/**
 * The template one role tokenizes with: the option, else what the encoder stored, else the
 * sentence-transformers prompt (an ST model always sees one sequence, so even an empty prompt
 * gives `{text}`), else none (DPR's pair input).
 * @example resolveTemplate('query', { option: 'query: {text}' })?.source // 'query: {text}'
 */
export function resolveTemplate(role: 'query' | 'passage', from: TemplateSources): InputTemplate | undefined {
  if (from.option !== undefined) return parseTemplate(from.option, `--${role}-template`);
  const stored = from.stored && storedTemplate(from.stored, role, from.storedFile ?? 'dprep_encoder.json');
  if (stored) return stored;
  if (from.stPrefix !== undefined) return parseTemplate(prefixTemplate(from.stPrefix, role === 'passage' && from.embedTitle === true), `${role} prompt`);
  return undefined;
}

/** Option declarations for train/encode/eval/mine (the integrator spreads them into each command's spec). */
export const TEMPLATE_OPTIONS = {
  queryTemplate: {
    type: 'string',
    help:
      'Query input template with {text} (and {title}); stored with the encoder so encode/eval/mine reuse it. ' +
      `E5: "${KNOWN_TEMPLATES.e5.query}"; BGE English: "${KNOWN_TEMPLATES.bgeEn.query}". Default: the question as is`,
  },
  passageTemplate: {
    type: 'string',
    help:
      'Passage input template with {title} and {text}, tokenized as one sequence; an empty title drops the space after it. ' +
      `E5: "${KNOWN_TEMPLATES.e5.passage}"; OpenMatch: "${KNOWN_TEMPLATES.openmatch.passage}". Default: DPR's [CLS] title [SEP] text [SEP]`,
  },
} as const satisfies OptionsSpec;
