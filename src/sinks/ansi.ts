/**
 * What the live views (the table, its status line, `top`) need from a
 * terminal: its size, whether to colour, and a few plain ANSI sequences.
 * No terminal library: the views only home the cursor, clear to the end of a
 * line and switch to the alternate screen, which every terminal rstrace runs
 * on (xterm, tmux, screen, the Linux console) understands.
 */
import type { Kind } from '../event.js';

export const COLOR_WHEN = ['auto', 'always', 'never'] as const;
export type ColorWhen = (typeof COLOR_WHEN)[number];

export const ESC = {
  clearLine: '\x1b[K',
  clearBelow: '\x1b[J',
  home: '\x1b[H',
  altScreenOn: '\x1b[?1049h',
  altScreenOff: '\x1b[?1049l',
  cursorHide: '\x1b[?25l',
  cursorShow: '\x1b[?25h',
  reset: '\x1b[0m',
  bold: '\x1b[1m',
} as const;

/** A stream as far as the views care: Node's tty.WriteStream has all of it, a pipe none of the optional parts. */
export interface Screen {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

/** Columns: the terminal's own width, else $COLUMNS, else 80. */
export function screenColumns(s: Screen, env: NodeJS.ProcessEnv = process.env): number {
  return positive(s.columns) ?? positive(Number(env.COLUMNS)) ?? 80;
}

/** Rows: the terminal's own height, else $LINES, else 24. */
export function screenRows(s: Screen, env: NodeJS.ProcessEnv = process.env): number {
  return positive(s.rows) ?? positive(Number(env.LINES)) ?? 24;
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * `--color`: auto colours a terminal unless NO_COLOR is set (no-color.org:
 * any non-empty value) or TERM is dumb; always and never mean what they say.
 */
export function useColor(when: ColorWhen, s: Screen, env: NodeJS.ProcessEnv = process.env): boolean {
  if (when !== 'auto') return when === 'always';
  return s.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** SGR colour of each kind: what this host did in red, what arrived in yellow. */
const KIND_SGR: Readonly<Record<Kind, string>> = {
  sent: '\x1b[31m', received: '\x1b[33m', abort: '\x1b[35m', ignored: '\x1b[2m',
};

export function kindColor(kind: Kind): string {
  return KIND_SGR[kind];
}

/** `text` in SGR `sgr`, or as is when `on` is false. */
export function paint(text: string, sgr: string, on: boolean): string {
  return on ? sgr + text + ESC.reset : text;
}

/**
 * `s` cut to `width` columns, the cut marked with an ellipsis. Counted in
 * code points: names are printed inert (no controls), and wide characters in
 * process names are rare enough not to be worth a width table.
 */
export function fitText(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  const cps = Array.from(s);
  if (cps.length <= width) return s;
  return cps.slice(0, width - 1).join('') + '…';
}

/** `s` cut to `width` and padded with spaces to exactly `width`. */
export function cell(s: string, width: number): string {
  const t = fitText(s, width);
  const n = Array.from(t).length;
  return n >= width ? t : t + ' '.repeat(width - n);
}
