/**
 * The live human table. Strings that come from other processes (comm) are
 * printed inert: control characters and escape sequences are shown as \xNN,
 * so a process cannot rewrite the operator's terminal through its name.
 *
 * Piped (a file, `| grep`), every column is printed in full, as it always
 * was. On a terminal the table fits its width: the columns that matter least
 * go first, addresses are shortened (tableLayout), WHY takes what is left,
 * and the header is repeated every screen.
 */
import type { ResetEvent } from '../event.js';
import { timeOfDay } from '../enrich/clock.js';
import { inert } from '../text/inert.js';
import { shortEndpoint } from '../text/endpoint.js';
import { ESC, cell, fitText, kindColor, paint } from './ansi.js';

const COLUMNS = [
  ['TIME', 15], ['KIND', 8], ['CODE', 4], ['PID', 7], ['COMM', 15], ['LOCAL', 22], ['REMOTE', 22],
  ['STATE', 11], ['REASON', 22],
] as const;


function endpoint(addr: string, port: number, v6: boolean): string {
  return v6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}

export function headerLine(): string {
  return COLUMNS.map(([name, w]) => pad(name, w)).join(' ') + ' WHY';
}

function whyOf(e: ResetEvent): string {
  return e.actorComm ? `${e.explanation} [by ${inert(e.actorComm)} pid ${e.actorPid}]` : e.explanation;
}

/** A row with every column in full (piped output); `color` paints KIND and CODE by kind. */
export function formatRow(e: ResetEvent, color = false): string {
  const v6 = e.family === 'ipv6';
  const cells = [
    timeOfDay(e.time),
    e.kind,
    String(e.code),
    e.pid === null ? '-' : String(e.pid),
    e.comm === null ? '-' : inert(e.comm),
    endpoint(e.laddr, e.lport, v6),
    endpoint(e.raddr, e.rport, v6),
    e.state ?? '-',
    e.reason ?? '-',
  ];
  const padded = cells.map((c, i) => pad(c, COLUMNS[i][1]));
  if (color) for (const i of [1, 2]) padded[i] = paint(padded[i], kindColor(e.kind), true);
  return padded.join(' ') + ' ' + whyOf(e);
}

/* ------------------------------------------------------------ fitted table */

type ColumnId = 'time' | 'kind' | 'code' | 'pid' | 'comm' | 'local' | 'remote' | 'state' | 'reason';

/** Column widths on a terminal; 0 drops the column. */
interface Widths {
  time: number; kind: number; code: number; pid: number; comm: number; addr: number; state: number; reason: number;
  /** WHY gets at least this much before another column gives way */
  whyMin: number;
}

/**
 * What gives way, in order, until the row fits: REASON (WHY says it in
 * words), sub-millisecond digits, the 22nd address character, STATE, COMM's
 * tail, PID, then narrower addresses and times. Below about 70 columns
 * even that is too wide, and rows are cut at the edge (without colour, whose
 * codes would be cut too).
 */
const SHRINK: readonly ((w: Widths) => void)[] = [
  (w) => { w.reason = 0; },
  (w) => { w.time = 12; },
  (w) => { w.addr = 21; },
  (w) => { w.state = 0; },
  (w) => { w.comm = 12; },
  (w) => { w.pid = 0; },
  (w) => { w.addr = 17; },
  (w) => { w.time = 8; },
  (w) => { w.comm = 10; },
  (w) => { w.addr = 15; },
  (w) => { w.comm = 8; },
  (w) => { w.whyMin = 12; },
];

export interface TableColumn {
  id: ColumnId;
  title: string;
  width: number;
}

export interface TableLayout {
  /** the terminal's width: no line is longer */
  width: number;
  columns: readonly TableColumn[];
  /** what WHY may take (the rest of the line) */
  why: number;
  /** the columns alone are wider than the terminal: rows are cut */
  cut: boolean;
}

const TITLES: Readonly<Record<ColumnId, string>> = {
  time: 'TIME', kind: 'KIND', code: 'CODE', pid: 'PID', comm: 'COMM', local: 'LOCAL', remote: 'REMOTE', state: 'STATE', reason: 'REASON',
};

function columnsOf(w: Widths): TableColumn[] {
  const spec: [ColumnId, number][] = [
    ['time', w.time], ['kind', w.kind], ['code', w.code], ['pid', w.pid], ['comm', w.comm],
    ['local', w.addr], ['remote', w.addr], ['state', w.state], ['reason', w.reason],
  ];
  return spec.filter(([, width]) => width > 0).map(([id, width]) => ({ id, title: TITLES[id], width }));
}

/** The table for a terminal `width` columns wide. */
export function tableLayout(width: number): TableLayout {
  const w: Widths = { time: 15, kind: 8, code: 4, pid: 7, comm: 15, addr: 22, state: 11, reason: 22, whyMin: 30 };
  const used = (cols: TableColumn[]): number => cols.reduce((n, c) => n + c.width + 1, 0);
  let cols = columnsOf(w);
  for (const step of SHRINK) {
    if (used(cols) + w.whyMin <= width) break;
    step(w);
    cols = columnsOf(w);
  }
  return { width, columns: cols, why: Math.max(0, width - used(cols)), cut: used(cols) > width };
}

function cellText(id: ColumnId, e: ResetEvent, width: number): string {
  switch (id) {
    case 'time': {
      const t = timeOfDay(e.time);
      return width >= t.length ? t : t.slice(0, width);
    }
    case 'kind': return e.kind;
    case 'code': return String(e.code);
    case 'pid': return e.pid === null ? '-' : String(e.pid);
    case 'comm': return e.comm === null ? '-' : inert(e.comm);
    case 'local': return shortEndpoint(e.laddr, e.lport, width);
    case 'remote': return shortEndpoint(e.raddr, e.rport, width);
    case 'state': return e.state ?? '-';
    case 'reason': return e.reason ?? '-';
  }
}

export function fittedHeader(layout: TableLayout, color = false): string {
  if (layout.cut) color = false;
  const line = fitText(layout.columns.map((c) => cell(c.title, c.width)).join(' ') + ' WHY', layout.width);
  return paint(line, ESC.bold, color);
}

/** A row no wider than the layout's width. */
export function fittedRow(e: ResetEvent, layout: TableLayout, color = false): string {
  if (layout.cut) return fitText(fittedRow(e, { ...layout, cut: false }), layout.width);
  let line = '';
  for (const c of layout.columns) {
    const text = cell(cellText(c.id, e, c.width), c.width);
    line += (c.id === 'kind' || c.id === 'code' ? paint(text, kindColor(e.kind), color) : text) + ' ';
  }
  return line + fitText(whyOf(e), layout.why);
}

/* -------------------------------------------------------------------- sink */

export interface TerminalSinkOptions {
  /** fit a terminal of this many columns; undefined: every column in full (piped) */
  columns?: number;
  /** the terminal's rows: the header is repeated every screen */
  rows?: number;
  color?: boolean;
  /** erases and redraws a status line around each write (see status-line.ts) */
  around?: (write: () => void) => void;
  /** every event shown, for the status line's counts */
  onEvent?: (e: ResetEvent) => void;
}

export class TerminalSink {
  private wroteHeader = false;
  private layout: TableLayout | null;
  /** rows since the last header */
  private sinceHeader = 0;

  constructor(private readonly out: (text: string) => void, private readonly opts: TerminalSinkOptions = {}) {
    this.layout = opts.columns === undefined ? null : tableLayout(opts.columns);
  }

  /** The terminal was resized: the next row starts with a header in the new layout. */
  resize(columns: number, rows: number): void {
    if (this.layout === null) return;
    this.layout = tableLayout(columns);
    this.opts.rows = rows;
    this.wroteHeader = false;
  }

  writeBatch(events: readonly ResetEvent[]): void {
    if (events.length === 0) return;
    const color = this.opts.color ?? false;
    const layout = this.layout;
    // one screen: its rows minus the header and the status line below the table
    const screen = Math.max(1, (this.opts.rows ?? Infinity) - 2);
    let text = '';
    for (const e of events) {
      if (!this.wroteHeader || (layout !== null && this.sinceHeader >= screen)) {
        text += (layout ? fittedHeader(layout, color) : paint(headerLine(), ESC.bold, color)) + '\n';
        this.wroteHeader = true;
        this.sinceHeader = 0;
      }
      text += (layout ? fittedRow(e, layout, color) : formatRow(e, color)) + '\n';
      this.sinceHeader++;
      this.opts.onEvent?.(e);
    }
    if (this.opts.around) this.opts.around(() => this.out(text));
    else this.out(text);
  }
}
