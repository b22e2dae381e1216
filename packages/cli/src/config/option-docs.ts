/** The README's option tables, generated from the one option table (a test keeps the README in step). */
import { COMMAND_OPTIONS, GLOBAL_OPTIONS } from './command-options.js';
import { defaultTextOf, envNameOfFlag, envNamesOf, flagOf, type OptionTable } from './option-table.js';

/** The tables the docs hold: every command's, and the global options (`global`). */
export const DOCUMENTED_TABLES: Readonly<Record<string, OptionTable>> = Object.freeze({
  global: GLOBAL_OPTIONS,
  ...COMMAND_OPTIONS,
});

const HEADER = ['flag', 'env', 'default', 'allowed', 'meaning'] as const;

const code = (text: string): string => `\`${text}\``;
const cell = (text: string): string => text.replaceAll('|', '\\|');

/** One row per option: cells as Markdown text, not padded. */
export function optionRows(table: OptionTable): string[][] {
  return Object.entries(table).map(([key, spec]) => {
    const flag = flagOf(key, spec);
    const flags = [
      code(`--${flag}`),
      ...(spec.deprecated ?? []).map((old) => `${code(`--${old.flag}`)} (deprecated)`),
    ];
    const envs = [
      ...envNamesOf(key, spec).map(code),
      ...(spec.deprecated ?? []).map((old) => `${code(envNameOfFlag(old.flag))} (deprecated)`),
    ];
    const fallback = spec.required === true ? 'required' : defaultTextOf(spec);
    return [
      flags.join(', '),
      envs.join(', '),
      /\s/.test(fallback) || fallback === 'none' || fallback === 'empty' ? fallback : code(fallback),
      spec.allowed,
      spec.help,
    ].map(cell);
  });
}

/** The Markdown table of one documented table name (`monitor`, `global`, …), unpadded. */
export function markdownOptionTable(name: string): string {
  const table = DOCUMENTED_TABLES[name];
  if (table === undefined) throw new Error(`no option table named ${name}`);
  const lines = [HEADER, HEADER.map(() => '---'), ...optionRows(table)].map(
    (row) => `| ${row.join(' | ')} |`,
  );
  return `${lines.join('\n')}\n`;
}

/** Cells of a Markdown table, trimmed, without the separator row (so padding does not matter). */
export function tableCells(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.trim().startsWith('|'))
    .map((line) =>
      line
        .trim()
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((item) => item.trim()),
    )
    .filter((row) => !row.every((item) => /^:?-+:?$/.test(item)));
}

export interface OptionBlock {
  readonly name: string;
  /** Offsets of the text between the markers. */
  readonly start: number;
  readonly end: number;
  readonly body: string;
}

const BLOCK = /<!-- options: ([a-z-]+) -->\n([\s\S]*?)<!-- \/options -->/g;

/** The `<!-- options: NAME -->` … `<!-- /options -->` blocks of a Markdown file. */
export function optionBlocks(markdown: string): OptionBlock[] {
  return [...markdown.matchAll(BLOCK)].map((match) => {
    const start = (match.index ?? 0) + match[0].indexOf('\n') + 1;
    const body = match[2] ?? '';
    return { name: match[1] ?? '', start, end: start + body.length, body };
  });
}

/** The file with every block replaced by its generated table (run Prettier afterwards to pad it). */
export function withGeneratedTables(markdown: string): string {
  let out = markdown;
  for (const block of optionBlocks(markdown).reverse()) {
    out = `${out.slice(0, block.start)}${markdownOptionTable(block.name)}${out.slice(block.end)}`;
  }
  return out;
}
