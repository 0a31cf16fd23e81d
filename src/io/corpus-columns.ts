/**
 * The column layout of a TSV corpus: declared with `--columns` (one declaration, spread into every
 * command that reads a corpus) or read from a header row. Its own light module so commands can
 * declare the option without loading the corpus readers (Parquet, Arrow) at startup.
 */
/** How the columns of a headerless corpus TSV are laid out, as `--columns` declares it. */
export const CORPUS_COLUMN_LAYOUTS = ['id,text,title', 'id,title,text', 'id,text'] as const;
export type CorpusColumns = (typeof CORPUS_COLUMN_LAYOUTS)[number];

/**
 * `--columns`, declared once and spread into every command that reads a corpus: a 3-column TSV
 * is `id,text,title` (DPR's psgs_w100) or `id,title,text` (OpenMatch / RocketQA MS MARCO), and
 * the two cannot be told apart from the data, so a headerless one must be declared.
 */
export const corpusColumnsOptions = {
  columns: {
    type: 'string',
    choices: CORPUS_COLUMN_LAYOUTS,
    help: 'column layout of a headerless corpus TSV: id,text,title (DPR psgs_w100), id,title,text (OpenMatch/RocketQA), id,text (MS MARCO); a header row (id text title / id title text) is read instead',
  },
} as const;

const HEADER_NAMES: Record<string, 'id' | 'title' | 'text'> = { id: 'id', _id: 'id', pid: 'id', docid: 'id', passage_id: 'id', text: 'text', passage: 'text', contents: 'text', content: 'text', title: 'title' };

/** The layout a header row names (`id\ttext\ttitle`, `id\ttitle\ttext`, `pid\tpassage`), or null when the row is data. */
export function corpusHeaderLayout(fields: readonly string[]): string | null {
  const names = fields.map((f) => HEADER_NAMES[f.trim().toLowerCase()]);
  if (names[0] !== 'id' || names.some((n) => n === undefined) || new Set(names).size !== names.length) return null;
  return names.join(',');
}

