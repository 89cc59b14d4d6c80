/**
 * What a user asks first about a trace: how many resets, of which kind and
 * code, from which processes, containers and units, to which peers and ports,
 * which ones look suspicious, and when. Pure: it
 * sees events and counters, never files, so tests and benchmarks call it
 * directly. `ReportBuilder` takes events one at a time, so a report over a
 * long trace needs memory for the distinct keys only, not for the events.
 */
import { KINDS, type Kind, type ResetEvent } from '../event.js';
import { RESET_CODES } from '../codes.js';
import { formatIsoMs, IsoMsParser } from '../enrich/clock.js';
import type { NetnsCheck } from '../completeness/check.js';
import { servicePort } from './service-port.js';
import { unitOf } from './unit.js';

export interface CodeCount { code: number; key: string; name: string; count: number }
export interface ProcessCount { pid: number | null; comm: string | null; count: number }
export interface PeerCount { raddr: string; count: number }
export interface PortCount { lport: number; count: number }
export interface RemotePortCount { rport: number; count: number }
export interface ServicePortCount { port: number; count: number }
export interface ContainerCount { container: string; count: number }
export interface UnitCount { unit: string; count: number }
export interface SignalCount { signal: string; count: number }

/**
 * Resets that may not be what they seem: RSTs the kernel refused (kind
 * `ignored`) and resets whose `signals` say stale, spoofed or injected.
 */
export interface SuspiciousReport {
  /** ignored, or with signals (an event that is both counts once) */
  total: number;
  /** kind `ignored`: a RST arrived and the kernel refused it */
  ignored: number;
  /** events with a non-null `signals` */
  withSignals: number;
  /** each signal named, over the events that carry it */
  bySignal: SignalCount[];
  /** the peers those resets came from */
  byPeer: PeerCount[];
  distinctPeers: number;
}

export interface Report {
  files: string[];
  /** resets counted (after this report's filter) */
  total: number;
  /** ISO time of the earliest and latest reset counted */
  firstTime: string | null;
  lastTime: string | null;
  byKind: Record<Kind, number>;
  /** every known code, zeros included, in code order; then any unknown code seen */
  byCode: CodeCount[];
  /** processes that owned resets; resets no process owns are in `unowned` instead */
  topProcesses: ProcessCount[];
  /** resets no process owns (no pid, no comm): the kernel answered with no socket, or no owner was found */
  unowned: number;
  topPeers: PeerCount[];
  topLocalPorts: PortCount[];
  topRemotePorts: RemotePortCount[];
  /** the listening side's port (rule in service-port.ts) */
  topServicePorts: ServicePortCount[];
  /** empty when no event names a container */
  topContainers: ContainerCount[];
  /** systemd units from `cgroup` (unit.ts); empty when no event has one */
  topUnits: UnitCount[];
  /** how many distinct keys there were (the tops show `top` of them) */
  distinct: {
    processes: number; peers: number; localPorts: number;
    remotePorts: number; servicePorts: number; containers: number; units: number;
  };
  suspicious: SuspiciousReport;
  /**
   * resets per bucket from `start` to `end` (exclusive), `bucketMs` chosen so
   * that there are at most 60 buckets; `peak` is the largest bucket; `byCode`
   * splits `counts` by code (codes seen only, in code order)
   */
  overTime: {
    start: string | null; end: string | null; bucketMs: number; peak: number; counts: number[];
    byCode: { code: number; counts: number[] }[];
  };
  /** records the kernel could not deliver (ring buffer full), from the trace files' trailers */
  lost: number;
  /** resets dropped by the trace's own filters while tracing */
  filtered: number;
  /** resets in the files left out by this report's filter */
  excluded: number;
  /** some file ends early (cut or damaged): counts cover the events before that point */
  truncated: boolean;
  /** some file has no trailer (trace killed or still running): lost/filtered are incomplete */
  countersIncomplete: boolean;
  /** the completeness check against the kernel's TcpOutRsts, per namespace, summed over the files; null when no file has one */
  kernel: NetnsCheck[] | null;
}

export interface ReportMeta {
  lost: number;
  filtered: number;
  truncated: boolean;
  files: string[];
  excluded?: number;
  countersIncomplete?: boolean;
  kernel?: NetnsCheck[] | null;
  /** length of each top list; 10 by default */
  top?: number;
}

const MAX_BUCKETS = 60;
/** Past this many distinct time keys the resolution coarsens tenfold, bounding memory. */
const MAX_TIME_KEYS = 100_000;
const NICE_BUCKETS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  1e3, 2e3, 5e3, 10e3, 15e3, 30e3,
  60e3, 120e3, 300e3, 600e3, 900e3, 1800e3,
  3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3,
];

export function summarize(events: Iterable<ResetEvent>, meta: ReportMeta): Report {
  const b = new ReportBuilder();
  for (const e of events) b.add(e);
  return b.finish(meta);
}

export class ReportBuilder {
  private total = 0;
  private readonly kinds = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  private readonly codes = new Map<number, number>();
  private readonly processes = new Map<number | null, Map<string | null, number>>();
  private unowned = 0;
  private readonly peers = new Map<string, number>();
  private readonly ports = new Map<number, number>();
  /** counts by local port, for ports 0-65535: an array, not a Map (a storm walks through thousands of ports) */
  private readonly portCounts = new Float64Array(65536);
  private readonly remotePortCounts = new Float64Array(65536);
  private readonly servicePortCounts = new Float64Array(65536);
  /** ports outside 0-65535 (a damaged record): remote and service ports by value */
  private readonly oddRemotePorts = new Map<number, number>();
  private readonly oddServicePorts = new Map<number, number>();
  private readonly containers = new Map<string, number>();
  /** by cgroup path: units are derived from the few distinct paths at finish, not per event */
  private readonly cgroups = new Map<string, number>();
  private ignored = 0;
  private withSignals = 0;
  private suspicious = 0;
  private readonly signals = new Map<string, number>();
  private readonly suspiciousPeers = new Map<string, number>();
  /** code -> its slot in the per-bucket count arrays */
  private readonly codeSlot = new Map<number, number>();
  private slotCodes: number[] = [];
  /** time key (ms / resolution) -> count per code slot */
  private times = new Map<number, number[]>();
  /** the current run of events with one time key, not yet in `times` (events come in time order) */
  private runKey = NaN;
  private runCount = 0;
  private runCounts: number[] = [];
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
    if (e.pid === null && e.comm === null) this.unowned++;
    else {
      let comms = this.processes.get(e.pid);
      if (comms === undefined) this.processes.set(e.pid, (comms = new Map()));
      comms.set(e.comm, (comms.get(e.comm) ?? 0) + 1);
    }
    this.peers.set(e.raddr, (this.peers.get(e.raddr) ?? 0) + 1);
    const port = e.lport;
    if ((port & 0xffff) === port) this.portCounts[port]++;
    else this.ports.set(port, (this.ports.get(port) ?? 0) + 1);
    const rport = e.rport;
    if ((rport & 0xffff) === rport) this.remotePortCounts[rport]++;
    else bump(this.oddRemotePorts, rport);
    const sport = servicePort(e);
    if ((sport & 0xffff) === sport) this.servicePortCounts[sport]++;
    else bump(this.oddServicePorts, sport);
    if (e.container !== null) bump(this.containers, e.container);
    if (e.cgroup !== null) bump(this.cgroups, e.cgroup);
    const ignored = e.kind === 'ignored';
    if (ignored || e.signals !== null) this.addSuspicious(e, ignored);
    let slot = this.codeSlot.get(e.code);
    if (slot === undefined) {
      slot = this.slotCodes.length;
      this.codeSlot.set(e.code, slot);
      this.slotCodes.push(e.code);
      this.runCounts.push(0);
    }

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
    let key = Math.floor(ms / this.resolution);
    if (key !== this.runKey) {
      this.endRun();
      // ending the run may have coarsened the resolution: the key is taken again in the new one
      key = Math.floor(ms / this.resolution);
      this.runKey = key;
    }
    this.runCount++;
    this.runCounts[slot]++;
  }

  private addSuspicious(e: ResetEvent, ignored: boolean): void {
    this.suspicious++;
    if (ignored) this.ignored++;
    if (e.signals !== null) {
      this.withSignals++;
      for (const s of e.signals) bump(this.signals, s);
    }
    bump(this.suspiciousPeers, e.raddr);
  }

  private endRun(): void {
    if (this.runCount === 0) return;
    let counts = this.times.get(this.runKey);
    if (counts === undefined) this.times.set(this.runKey, (counts = []));
    const run = this.runCounts;
    for (let i = 0; i < run.length; i++) {
      if (run[i] === 0) continue;
      counts[i] = (counts[i] ?? 0) + run[i];
      run[i] = 0;
    }
    this.runCount = 0;
    this.runKey = NaN;
    if (this.times.size > MAX_TIME_KEYS) this.coarsen();
  }

  finish(meta: ReportMeta): Report {
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
    const remotePorts = portList(this.remotePortCounts, this.oddRemotePorts).map(([rport, count]) => ({ rport, count }));
    const servicePorts = portList(this.servicePortCounts, this.oddServicePorts).map(([port, count]) => ({ port, count }));
    const units = new Map<string, number>();
    for (const [cgroup, count] of this.cgroups) {
      const unit = unitOf(cgroup);
      if (unit !== null) units.set(unit, (units.get(unit) ?? 0) + count);
    }
    return {
      files: [...meta.files],
      total: this.total,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      byKind: { ...this.kinds },
      byCode,
      topProcesses: topOf(processes, top, (a, b) => cmp(a.comm ?? '', b.comm ?? '') || (a.pid ?? -1) - (b.pid ?? -1)),
      topPeers: topOf([...this.peers].map(([raddr, count]) => ({ raddr, count })), top, (a, b) => cmp(a.raddr, b.raddr)),
      unowned: this.unowned,
      topLocalPorts: topOf(ports, top, (a, b) => a.lport - b.lport),
      topRemotePorts: topOf(remotePorts, top, (a, b) => a.rport - b.rport),
      topServicePorts: topOf(servicePorts, top, (a, b) => a.port - b.port),
      topContainers: topOf([...this.containers].map(([container, count]) => ({ container, count })), top, (a, b) => cmp(a.container, b.container)),
      topUnits: topOf([...units].map(([unit, count]) => ({ unit, count })), top, (a, b) => cmp(a.unit, b.unit)),
      distinct: {
        processes: processes.length, peers: this.peers.size, localPorts: ports.length,
        remotePorts: remotePorts.length, servicePorts: servicePorts.length, containers: this.containers.size, units: units.size,
      },
      suspicious: {
        total: this.suspicious,
        ignored: this.ignored,
        withSignals: this.withSignals,
        bySignal: topOf([...this.signals].map(([signal, count]) => ({ signal, count })), Infinity, (a, b) => cmp(a.signal, b.signal)),
        byPeer: topOf([...this.suspiciousPeers].map(([raddr, count]) => ({ raddr, count })), top, (a, b) => cmp(a.raddr, b.raddr)),
        distinctPeers: this.suspiciousPeers.size,
      },
      overTime: this.buckets(),
      lost: meta.lost,
      filtered: meta.filtered,
      excluded: meta.excluded ?? 0,
      truncated: meta.truncated,
      countersIncomplete: meta.countersIncomplete ?? false,
      kernel: meta.kernel ?? null,
    };
  }

  private coarsen(): void {
    this.resolution *= 10;
    const coarse = new Map<number, number[]>();
    for (const [k, counts] of this.times) {
      const key = Math.floor(k / 10);
      const into = coarse.get(key);
      if (into === undefined) coarse.set(key, counts);
      else addInto(into, counts);
    }
    this.times = coarse;
  }

  private buckets(): Report['overTime'] {
    if (this.times.size === 0) return { start: null, end: null, bucketMs: 0, peak: 0, counts: [], byCode: [] };
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
    const buckets = Math.floor((this.lastMs - start) / size) + 1;
    const bySlot = this.slotCodes.map(() => new Array<number>(buckets).fill(0));
    for (const [k, perSlot] of this.times) {
      const b = Math.floor((k * r - start) / size);
      for (let i = 0; i < perSlot.length; i++) if (perSlot[i]) bySlot[i][b] += perSlot[i];
    }
    const counts = new Array<number>(buckets).fill(0);
    for (const slot of bySlot) for (let b = 0; b < buckets; b++) counts[b] += slot[b];
    const byCode = this.slotCodes.map((code, i) => ({ code, counts: bySlot[i] }))
      .filter((c) => c.counts.some((n) => n > 0))
      .sort((a, b) => a.code - b.code);
    return {
      start: formatIsoMs(start), end: formatIsoMs(start + buckets * size), bucketMs: size,
      peak: Math.max(0, ...counts), counts, byCode,
    };
  }
}

/** Highest count first; ties in a stable, readable order. */
function topOf<T extends { count: number }>(items: T[], n: number, tie: (a: T, b: T) => number): T[] {
  return items.sort((a, b) => b.count - a.count || tie(a, b)).slice(0, Math.max(0, n));
}

function bump<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function addInto(into: number[], from: readonly number[]): void {
  for (let i = 0; i < from.length; i++) if (from[i]) into[i] = (into[i] ?? 0) + from[i];
}

/** [port, count] for each port counted, the 0-65535 array first, then any odd value. */
function portList(counts: Float64Array, odd: ReadonlyMap<number, number>): [number, number][] {
  const out: [number, number][] = [...odd];
  for (let p = 0; p < 65536; p++) if (counts[p]) out.push([p, counts[p]]);
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
