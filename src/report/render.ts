/**
 * A Report as text for a terminal: a headline, aligned tables, and a one-line
 * histogram of resets over time. Strings from the trace (process names, peer
 * addresses) are untrusted: control characters are shown escaped, so a
 * crafted process name cannot move the cursor or hide a line.
 */
import { displayTime, isoToMs } from '../enrich/clock.js';
import { KINDS } from '../event.js';
import { inert } from '../text/inert.js';
import type { Report } from './summarize.js';
import { reportCheckLines } from '../completeness/summary.js';

const BLOCKS = '▁▂▃▄▅▆▇█';

export function renderReport(r: Report): string {
  const out: string[] = [];
  const files = r.files.length === 1 ? r.files[0] : `${r.files.length} files`;
  out.push(`${num(r.total)} resets in ${inert(files)}${r.firstTime ? `, ${when(r.firstTime)} to ${when(r.lastTime ?? r.firstTime)} UTC (${duration(r.firstTime, r.lastTime)})` : ''}`);
  const counters = [`lost in kernel: ${num(r.lost)}`, `filtered while tracing: ${num(r.filtered)}`];
  if (r.excluded) counters.push(`left out by this report's filter: ${num(r.excluded)}`);
  out.push(counters.join('   '));
  if (r.lost > 0) out.push('note: the kernel dropped records (ring buffer full): the counts below are low by at least that many');
  if (r.countersIncomplete) out.push('note: a trace did not end normally (no trailer): its lost and filtered counts are not known');
  if (r.truncated) out.push('note: a trace file ends early: the counts cover the events before that point');
  out.push(...reportCheckLines(r.kernel));

  out.push('', 'By kind');
  out.push(...table(['KIND', 'COUNT', '%'], KINDS.map((k) => [k, num(r.byKind[k]), pct(r.byKind[k], r.total)]), 'lrr'));

  out.push('', 'By code');
  out.push(...table(['CODE', 'KEY', 'COUNT', '%', 'NAME'],
    r.byCode.map((c) => [String(c.code), c.key, num(c.count), c.count ? pct(c.count, r.total) : '-', c.name]), 'rlrrl'));

  out.push('', `Top processes (${num(r.topProcesses.length)} of ${num(r.distinct.processes)})`);
  out.push(...table(['PID', 'COMM', 'COUNT', '%'],
    r.topProcesses.map((p) => [p.pid === null ? '-' : String(p.pid), p.comm === null ? '-' : inert(p.comm), num(p.count), pct(p.count, r.total)]), 'rlrr'));

  out.push('', `Top remote peers (${num(r.topPeers.length)} of ${num(r.distinct.peers)})`);
  out.push(...table(['RADDR', 'COUNT', '%'], r.topPeers.map((p) => [inert(p.raddr), num(p.count), pct(p.count, r.total)]), 'lrr'));

  out.push('', `Top local ports (${num(r.topLocalPorts.length)} of ${num(r.distinct.localPorts)})`);
  out.push(...table(['LPORT', 'COUNT', '%'], r.topLocalPorts.map((p) => [String(p.lport), num(p.count), pct(p.count, r.total)]), 'rrr'));

  const t = r.overTime;
  if (t.start && t.counts.length) {
    const peak = Math.max(...t.counts);
    out.push('', `Over time (${span(t.bucketMs)} per bar, from ${when(t.start)} UTC; peak ${num(peak)} per bar)`);
    out.push('  ' + histogram(t.counts));
  }
  return out.join('\n') + '\n';
}

/** One character per bucket; any non-zero count shows at least the lowest block. */
export function histogram(counts: readonly number[]): string {
  const peak = Math.max(0, ...counts);
  return counts.map((n) => (n === 0 ? ' ' : BLOCKS[Math.min(7, Math.ceil((n / peak) * 8) - 1)])).join('');
}

/** Rows under a header, columns padded; `align` is one l/r per column. */
function table(header: string[], rows: string[][], align: string): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => {
    if (i === cells.length - 1 && align[i] === 'l') return c; // no trailing spaces
    return align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i]);
  }).join('  ');
  return [line(header), ...rows.map(line)];
}

function num(n: number): string {
  return n.toLocaleString('en-US');
}

function pct(n: number, total: number): string {
  return total ? `${((100 * n) / total).toFixed(1)}%` : '-';
}

function when(iso: string): string {
  return inert(displayTime(iso));
}

function duration(from: string, to: string | null): string {
  const ms = isoToMs(to ?? from) - isoToMs(from);
  return Number.isNaN(ms) ? '?' : span(Math.max(0, ms));
}

function span(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60e3) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 3600e3) return `${+(ms / 60e3).toFixed(1)} min`;
  if (ms < 86400e3) return `${+(ms / 3600e3).toFixed(1)} h`;
  return `${+(ms / 86400e3).toFixed(1)} d`;
}
