/**
 * One screen of `top`, as lines no wider than the terminal: a title line
 * with the totals, then four tables (by code, owner, remote peer, service
 * port), side by side in pairs from 80 columns on, stacked below. Pure: the
 * view (view.ts) decides when to draw and where.
 */
import { codeInfo } from '../codes.js';
import { inert } from '../text/inert.js';
import { ESC, cell, fitText, paint } from '../sinks/ansi.js';
import type { Row, TopTally } from './tally.js';

export interface TopFrame {
  columns: number;
  rows: number;
  elapsedSec: number;
  lost: number;
  filtered: number;
  color: boolean;
  /** shown when the view reads keys */
  keys: boolean;
}

interface Table {
  title: string;
  rows: { name: string; rate: number; total: number }[];
}

const RATE_W = 8;
const TOTAL_W = 10;
/** two tables side by side from this width on */
const SIDE_BY_SIDE = 80;

function clock(sec: number): string {
  const s = Math.floor(sec);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

function tables(t: TopTally): Table[] {
  const named = <K>(rows: Row<K>[], name: (k: K) => string): Table['rows'] =>
    rows.map((r) => ({ name: name(r.key), rate: r.rate, total: r.total }));
  return [
    { title: 'CODE', rows: named(t.codes.rows(), (k) => (typeof k === 'number' ? `${String(k).padEnd(2)} ${codeInfo(k)?.key ?? 'unknown'}` : k)) },
    { title: 'OWNER', rows: named(t.owners.rows(), (k) => inert(k)) },
    { title: 'REMOTE PEER', rows: named(t.peers.rows(), (k) => inert(k)) },
    { title: 'SERVICE PORT', rows: named(t.ports.rows(), (k) => String(k)) },
  ];
}

/** A table in `width` columns, `height` lines (its header included), padded with blank lines. */
function tableLines(table: Table, width: number, height: number, color: boolean): string[] {
  const nameW = Math.max(4, width - RATE_W - TOTAL_W - 2);
  const line = (name: string, rate: string, total: string): string =>
    fitText(`${cell(name, nameW)} ${rate.padStart(RATE_W)} ${total.padStart(TOTAL_W)}`, width);
  const out = [paint(line(table.title, '/s', 'TOTAL'), ESC.bold, color)];
  const shown = table.rows.slice(0, Math.max(0, height - 1));
  const hidden = table.rows.length - shown.length;
  for (let i = 0; i < shown.length; i++) {
    const r = shown[i];
    // the last line says what did not fit rather than hide it silently
    if (i === shown.length - 1 && hidden > 0) {
      const rest = table.rows.slice(i);
      out.push(line(`(${rest.length} more)`, String(Math.round(sum(rest, 'rate'))), String(sum(rest, 'total'))));
      break;
    }
    out.push(line(r.name, String(Math.round(r.rate)), String(r.total)));
  }
  while (out.length < height) out.push('');
  return out;
}

function sum(rows: Table['rows'], k: 'rate' | 'total'): number {
  return rows.reduce((n, r) => n + r[k], 0);
}

export function titleLine(t: TopTally, f: TopFrame): string {
  const keys = f.keys ? ' | q quits' : '';
  return fitText(`rstrace top ${clock(f.elapsedSec)} | ${t.total} resets, ${Math.round(t.rate)}/s (peak ${Math.round(t.peakRate)}/s), `
    + `${f.lost} lost, ${f.filtered} filtered${keys}`, f.columns);
}

/** The screen, `rows` lines at most, none wider than `columns`. */
export function renderTop(t: TopTally, f: TopFrame): string[] {
  const lines = [paint(titleLine(t, f), ESC.bold, f.color), ''];
  const all = tables(t);
  const room = Math.max(0, f.rows - lines.length);
  if (f.columns >= SIDE_BY_SIDE) {
    const gap = 2;
    const w = Math.floor((f.columns - gap) / 2);
    // two pairs, a blank line between them
    const h = Math.max(2, Math.floor((room - 1) / 2));
    for (let pair = 0; pair < 2; pair++) {
      const left = tableLines(all[pair * 2], w, h, f.color);
      const right = tableLines(all[pair * 2 + 1], w, h, f.color);
      for (let i = 0; i < h; i++) {
        const l = left[i];
        // pad the left cell by its visible width (it may carry colour codes)
        const visible = l.replace(/\x1b\[[0-9;]*m/g, '');
        lines.push(right[i] ? l + ' '.repeat(w + gap - Array.from(visible).length) + right[i] : l);
      }
      if (pair === 0) lines.push('');
    }
  } else {
    const h = Math.max(2, Math.floor((room - 3) / 4));
    for (const table of all) {
      lines.push(...tableLines(table, f.columns, h, f.color));
      lines.push('');
    }
  }
  return lines.slice(0, f.rows);
}

/** The line printed after the view closes: the busiest codes that fit in `columns`. */
export function summaryLine(t: TopTally, elapsedSec: number, columns = Infinity): string {
  let line = `rstrace top: ${t.total} resets in ${elapsedSec.toFixed(1)} s, peak ${Math.round(t.peakRate)}/s`;
  const codes = t.codes.rows().sort((a, b) => b.total - a.total);
  for (let i = 0; i < codes.length; i++) {
    const r = codes[i];
    const more = `${i === 0 ? '; ' : ', '}${r.key} ${typeof r.key === 'number' ? codeInfo(r.key)?.key ?? 'unknown' : r.key} ${r.total}`;
    if (line.length + more.length > columns) break;
    line += more;
  }
  return line;
}
