/**
 * The report's counting as it was before the offline fast path (rstrace
 * bfd6757, src/report/summarize.ts): string-keyed Maps and every event's ISO
 * time parsed. Kept only as the reference the fast ReportBuilder is held to.
 */
import { RESET_CODES } from '../../src/codes.js';
import { formatIsoMs, IsoMsParser } from '../../src/enrich/clock.js';
import { KINDS, type Kind, type ResetEvent } from '../../src/event.js';
import type { CodeCount, ProcessCount, Report, ReportMeta } from '../../src/report/summarize.js';

const MAX_BUCKETS = 60;
/** Past this many distinct time keys the resolution coarsens tenfold, bounding memory. */
const MAX_TIME_KEYS = 100_000;
const NICE_BUCKETS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  1e3, 2e3, 5e3, 10e3, 15e3, 30e3,
  60e3, 120e3, 300e3, 600e3, 900e3, 1800e3,
  3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3,
];


/** Report as it was then: the fields this reference knows (later sections are held to the string path instead). */
export interface ReferenceReport {
  files: string[];
  total: number;
  firstTime: string | null;
  lastTime: string | null;
  byKind: Report['byKind'];
  byCode: CodeCount[];
  topProcesses: ProcessCount[];
  topPeers: Report['topPeers'];
  topLocalPorts: Report['topLocalPorts'];
  distinct: { processes: number; peers: number; localPorts: number };
  overTime: { start: string | null; bucketMs: number; counts: number[] };
  lost: number;
  filtered: number;
  excluded: number;
  truncated: boolean;
  countersIncomplete: boolean;
}

export function referenceSummary(events: Iterable<ResetEvent>, meta: ReportMeta): ReferenceReport {
  const b = new ReferenceReportBuilder();
  for (const e of events) b.add(e);
  return b.finish(meta);
}

class ReferenceReportBuilder {
  private total = 0;
  private readonly kinds = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  private readonly codes = new Map<number, number>();
  private readonly processes = new Map<number | null, Map<string | null, number>>();
  private readonly peers = new Map<string, number>();
  private readonly ports = new Map<number, number>();
  /** counts by local port, for ports 0-65535: an array, not a Map (a storm walks through thousands of ports) */
  private readonly portCounts = new Float64Array(65536);
  /** time key (ms / resolution) -> count */
  private times = new Map<number, number>();
  /** the current run of events with one time key, not yet in `times` (events come in time order) */
  private runKey = NaN;
  private runCount = 0;
  private resolution = 1;
  private firstMs = Infinity;
  private lastMs = -Infinity;
  private firstTime: string | null = null;
  private lastTime: string | null = null;
  private readonly clock = new IsoMsParser();

  add(e: ResetEvent): void {
    this.total++;
    if (e.kind in this.kinds) this.kinds[e.kind]++;
    this.codes.set(e.code, (this.codes.get(e.code) ?? 0) + 1);
    // events with neither pid nor comm are the report's `unowned` since, not a process
    if (e.pid !== null || e.comm !== null) {
      let comms = this.processes.get(e.pid);
      if (comms === undefined) this.processes.set(e.pid, (comms = new Map()));
      comms.set(e.comm, (comms.get(e.comm) ?? 0) + 1);
    }
    this.peers.set(e.raddr, (this.peers.get(e.raddr) ?? 0) + 1);
    const port = e.lport;
    if ((port & 0xffff) === port) this.portCounts[port]++;
    else this.ports.set(port, (this.ports.get(port) ?? 0) + 1);

    const ms = this.clock.parse(e.time);
    if (Number.isNaN(ms)) return;
    if (ms < this.firstMs || (ms === this.firstMs && e.time < (this.firstTime as string))) {
      this.firstMs = ms;
      this.firstTime = e.time;
    }
    if (ms > this.lastMs || (ms === this.lastMs && e.time > (this.lastTime as string))) {
      this.lastMs = ms;
      this.lastTime = e.time;
    }
    const key = Math.floor(ms / this.resolution);
    if (key === this.runKey) { this.runCount++; return; }
    this.endRun();
    this.runKey = key;
    this.runCount = 1;
  }

  private endRun(): void {
    if (this.runCount === 0) return;
    this.times.set(this.runKey, (this.times.get(this.runKey) ?? 0) + this.runCount);
    this.runCount = 0;
    this.runKey = NaN;
    if (this.times.size > MAX_TIME_KEYS) this.coarsen();
  }

  finish(meta: ReportMeta): ReferenceReport {
    this.endRun();
    const top = meta.top ?? 10;
    const ports = [...this.ports].map(([lport, count]) => ({ lport, count }));
    for (let p = 0; p < 65536; p++) if (this.portCounts[p]) ports.push({ lport: p, count: this.portCounts[p] });
    const byCode: CodeCount[] = RESET_CODES.map((c) => ({ code: c.code, key: c.key, name: c.name, count: this.codes.get(c.code) ?? 0 }));
    for (const [code, count] of [...this.codes].sort((a, b) => a[0] - b[0])) {
      if (!byCode.some((c) => c.code === code)) byCode.push({ code, key: 'unknown', name: 'a code this rstrace does not know', count });
    }
    const processes: ProcessCount[] = [];
    for (const [pid, comms] of this.processes) for (const [comm, count] of comms) processes.push({ pid, comm, count });
    return {
      files: [...meta.files],
      total: this.total,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      byKind: { ...this.kinds },
      byCode,
      topProcesses: topOf(processes, top, (a, b) => cmp(a.comm ?? '', b.comm ?? '') || (a.pid ?? -1) - (b.pid ?? -1)),
      topPeers: topOf([...this.peers].map(([raddr, count]) => ({ raddr, count })), top, (a, b) => cmp(a.raddr, b.raddr)),
      topLocalPorts: topOf(ports, top, (a, b) => a.lport - b.lport),
      distinct: { processes: processes.length, peers: this.peers.size, localPorts: ports.length },
      overTime: this.buckets(),
      lost: meta.lost,
      filtered: meta.filtered,
      excluded: meta.excluded ?? 0,
      truncated: meta.truncated,
      countersIncomplete: meta.countersIncomplete ?? false,
    };
  }

  private coarsen(): void {
    this.resolution *= 10;
    const coarse = new Map<number, number>();
    for (const [k, n] of this.times) {
      const key = Math.floor(k / 10);
      coarse.set(key, (coarse.get(key) ?? 0) + n);
    }
    this.times = coarse;
  }

  private buckets(): ReferenceReport['overTime'] {
    if (this.times.size === 0) return { start: null, bucketMs: 0, counts: [] };
    const r = this.resolution;
    const from = Math.floor(this.firstMs / r) * r;
    const span = this.lastMs - from + 1;
    let size = NICE_BUCKETS_MS.find((s) => s >= r && s % r === 0 && Math.ceil(span / s) <= MAX_BUCKETS);
    if (size === undefined) {
      // longer than 60 days: whole days
      size = Math.max(r, Math.ceil(span / MAX_BUCKETS / 86400e3) * 86400e3);
      size = Math.ceil(size / r) * r;
    }
    const start = Math.floor(from / size) * size;
    const counts = new Array<number>(Math.floor((this.lastMs - start) / size) + 1).fill(0);
    for (const [k, n] of this.times) counts[Math.floor((k * r - start) / size)] += n;
    return { start: formatIsoMs(start), bucketMs: size, counts };
  }
}

/** Highest count first; ties in a stable, readable order. */
function topOf<T extends { count: number }>(items: T[], n: number, tie: (a: T, b: T) => number): T[] {
  return items.sort((a, b) => b.count - a.count || tie(a, b)).slice(0, Math.max(0, n));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
