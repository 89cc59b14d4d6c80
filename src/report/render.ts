/**
 * A Report as text for a terminal: a headline, aligned tables, and a one-line
 * histogram of resets over time. Strings from the trace (process names, peer
 * addresses) are untrusted: control characters are shown escaped, so a
 * crafted process name cannot move the cursor or hide a line.
 */
import { displayTime, isoToMs } from '../enrich/clock.js';
import { KINDS } from '../event.js';
import { inert } from '../text/inert.js';
import { SERVICE_PORT_RULE } from './service-port.js';
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
  out.push(`  kernel (no socket): ${num(r.unowned)} (${pct(r.unowned, r.total)}), resets no process owns, not counted above`);

  if (r.distinct.containers) {
    out.push('', `Top containers (${num(r.topContainers.length)} of ${num(r.distinct.containers)})`);
    out.push(...table(['CONTAINER', 'COUNT', '%'], r.topContainers.map((c) => [inert(c.container), num(c.count), pct(c.count, r.total)]), 'lrr'));
  }
  if (r.distinct.units) {
    out.push('', `Top units (${num(r.topUnits.length)} of ${num(r.distinct.units)})`);
    out.push(...table(['UNIT', 'COUNT', '%'], r.topUnits.map((u) => [inert(u.unit), num(u.count), pct(u.count, r.total)]), 'lrr'));
  }

  out.push('', `Top remote peers (${num(r.topPeers.length)} of ${num(r.distinct.peers)})`);
  out.push(...table(['RADDR', 'COUNT', '%'], r.topPeers.map((p) => [inert(p.raddr), num(p.count), pct(p.count, r.total)]), 'lrr'));

  out.push('', `Top service ports (${num(r.topServicePorts.length)} of ${num(r.distinct.servicePorts)})`);
  out.push(...wrap(SERVICE_PORT_RULE, 96).map((l) => `  ${l}`));
  out.push(...table(['PORT', 'COUNT', '%'], r.topServicePorts.map((p) => [String(p.port), num(p.count), pct(p.count, r.total)]), 'rrr'));

  out.push('', `Top local ports (${num(r.topLocalPorts.length)} of ${num(r.distinct.localPorts)})`);
  out.push(...table(['LPORT', 'COUNT', '%'], r.topLocalPorts.map((p) => [String(p.lport), num(p.count), pct(p.count, r.total)]), 'rrr'));

  out.push('', `Top remote ports (${num(r.topRemotePorts.length)} of ${num(r.distinct.remotePorts)})`);
  out.push(...table(['RPORT', 'COUNT', '%'], r.topRemotePorts.map((p) => [String(p.rport), num(p.count), pct(p.count, r.total)]), 'rrr'));

  out.push('', ...suspicious(r));

  const t = r.overTime;
  if (t.start && t.end && t.counts.length) {
    const bars = histogram(t.counts);
    out.push('', `Over time: ${span(t.bucketMs)} per bar, ${num(t.counts.length)} bars; ${BLOCKS[7]} = ${num(t.peak)} (the peak), one step of 8 = ${scaleStep(t.peak)}`);
    out.push('  ' + bars);
    out.push('  ' + axis(when(t.start), `${when(t.end)} UTC`, bars.length));
  }
  return out.join('\n') + '\n';
}

function suspicious(r: Report): string[] {
  const s = r.suspicious;
  const head = `Suspicious resets: ${num(s.total)} (${pct(s.total, r.total)})`;
  if (s.total === 0) return [`${head}: no ignored RST, no reset with signals`];
  const out = [`${head}: ${num(s.ignored)} ignored by the kernel, ${num(s.withSignals)} with signals of a stale, spoofed or injected RST`];
  if (s.bySignal.length) {
    out.push(...table(['SIGNAL', 'COUNT', '%'], s.bySignal.map((g) => [inert(g.signal), num(g.count), pct(g.count, s.total)]), 'lrr'));
  }
  out.push(`  from ${num(s.byPeer.length)} of ${num(s.distinctPeers)} peers:`);
  out.push(...table(['RADDR', 'COUNT', '%'], s.byPeer.map((p) => [inert(p.raddr), num(p.count), pct(p.count, s.total)]), 'lrr'));
  return out;
}

/** Words into lines of at most `width` characters (a word longer than that stands alone). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** What one of the 8 block heights stands for, so that a bar can be read as a number. */
function scaleStep(peak: number): string {
  const step = peak / 8;
  return step >= 10 ? num(Math.round(step)) : String(+step.toFixed(2));
}

/** Start under the first bar, end under the last (pushed right when the bars are narrower than the labels). */
export function axis(start: string, end: string, width: number): string {
  const gap = Math.max(2, width - start.length - end.length);
  return start + ' '.repeat(gap) + end;
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
