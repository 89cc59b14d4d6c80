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
import { unitOf } from '../enrich/container.js';

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

/** One (pid, comm) pair's count: found again through a small cache keyed by pid, not a string key. */
interface ProcessCell { pid: number | null; comm: string | null; count: number }
/** One peer's count; the last two peers are remembered (a storm alternates between few). */
interface PeerCell { raddr: string; count: number }

/** Codes below this are counted in array slots; others (unknown codes) in Maps. */
const CODE_SLOTS = 256;
const PROCESS_CACHE = 64;

export class ReportBuilder {
  private total = 0;
  /** counts by index in KINDS */
  private readonly kindCounts = new Float64Array(KINDS.length);
  private readonly codeCounts = new Float64Array(CODE_SLOTS);
  private readonly otherCodes = new Map<number, number>();
  private readonly processes = new Map<number | null, Map<string | null, ProcessCell>>();
  /** direct-mapped by pid: the cell last counted for that slot */
  private readonly processCache: (ProcessCell | undefined)[] = new Array<ProcessCell | undefined>(PROCESS_CACHE);
  private unowned = 0;
  private readonly peers = new Map<string, PeerCell>();
  private peerA: PeerCell | null = null;
  private peerB: PeerCell | null = null;
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
  /** code -> its slot in the per-bucket count arrays: an array for codes below CODE_SLOTS (-1: none yet), a Map above */
  private readonly smallCodeSlot = new Int32Array(CODE_SLOTS).fill(-1);
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
  /** ns past the millisecond of firstTime / lastTime, when known (addAt); -1: compare the strings */
  private firstSub = -1;
  private lastSub = -1;
  private firstTime: string | null = null;
  private lastTime: string | null = null;
  private readonly clock = new IsoMsParser();

  add(e: ResetEvent): void {
    const slot = this.count(e);
    const ms = this.clock.parse(e.time);
    if (Number.isNaN(ms)) return;
    if (ms < this.firstMs || (ms === this.firstMs && e.time < (this.firstTime as string))) {
      this.firstMs = ms;
      this.firstTime = e.time;
      this.firstSub = -1;
    }
    if (ms > this.lastMs || (ms === this.lastMs && e.time > (this.lastTime as string))) {
      this.lastMs = ms;
      this.lastTime = e.time;
      this.lastSub = -1;
    }
    this.addTime(ms, slot);
  }

  /**
   * `add` for an event whose time the caller has as numbers: `ms` since the
   * epoch and `subNs` (0-999999, or -1 if not known) past it, exactly what
   * `e.time` says (the trace reader has them from the record). No string is
   * parsed, and with `subNs` none is compared.
   */
  addAt(e: ResetEvent, ms: number, subNs: number): void {
    const slot = this.count(e);
    if (ms < this.firstMs || (ms === this.firstMs && this.earlier(subNs, e.time, this.firstSub, this.firstTime as string))) {
      this.firstMs = ms;
      this.firstTime = e.time;
      this.firstSub = subNs;
    }
    if (ms > this.lastMs || (ms === this.lastMs && this.earlier(this.lastSub, this.lastTime as string, subNs, e.time))) {
      this.lastMs = ms;
      this.lastTime = e.time;
      this.lastSub = subNs;
    }
    this.addTime(ms, slot);
  }

  /** a before b, within one millisecond: by the ns when both are known, else as `add` compares */
  private earlier(aSub: number, a: string, bSub: number, b: string): boolean {
    return aSub >= 0 && bSub >= 0 ? aSub < bSub : a < b;
  }

  /** Everything but the time; returns the event's code slot for the per-bucket counts. */
  private count(e: ResetEvent): number {
    this.total++;
    const kind = e.kind;
    for (let i = 0; i < KINDS.length; i++) if (kind === KINDS[i]) { this.kindCounts[i]++; break; }
    const code = e.code;
    const small = code >= 0 && code < CODE_SLOTS && (code | 0) === code;
    if (small) this.codeCounts[code]++;
    else bump(this.otherCodes, code);
    if (e.pid === null && e.comm === null) this.unowned++;
    else this.countProcess(e.pid, e.comm);
    this.countPeer(e.raddr);
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
    let slot = small ? this.smallCodeSlot[code] : (this.codeSlot.get(code) ?? -1);
    if (slot < 0) {
      slot = this.slotCodes.length;
      if (small) this.smallCodeSlot[code] = slot; else this.codeSlot.set(code, slot);
      this.slotCodes.push(code);
      this.runCounts.push(0);
    }
    return slot;
  }

  private countProcess(pid: number | null, comm: string | null): void {
    const at = pid === null ? 0 : (pid & (PROCESS_CACHE - 1));
    const hit = this.processCache[at];
    if (hit !== undefined && hit.pid === pid && hit.comm === comm) { hit.count++; return; }
    let comms = this.processes.get(pid);
    if (comms === undefined) this.processes.set(pid, (comms = new Map()));
    let cell = comms.get(comm);
    if (cell === undefined) comms.set(comm, (cell = { pid, comm, count: 0 }));
    cell.count++;
    this.processCache[at] = cell;
  }

  private countPeer(raddr: string): void {
    const a = this.peerA;
    if (a !== null && a.raddr === raddr) { a.count++; return; }
    const b = this.peerB;
    if (b !== null && b.raddr === raddr) { b.count++; this.peerB = a; this.peerA = b; return; }
    let cell = this.peers.get(raddr);
    if (cell === undefined) this.peers.set(raddr, (cell = { raddr, count: 0 }));
    cell.count++;
    this.peerB = a;
    this.peerA = cell;
  }

  private addTime(ms: number, slot: number): void {
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
    const codes = new Map(this.otherCodes);
    for (let c = 0; c < CODE_SLOTS; c++) if (this.codeCounts[c]) codes.set(c, this.codeCounts[c]);
    const byCode: CodeCount[] = RESET_CODES.map((c) => ({ code: c.code, key: c.key, name: c.name, count: codes.get(c.code) ?? 0 }));
    for (const [code, count] of [...codes].sort((a, b) => a[0] - b[0])) {
      if (!byCode.some((c) => c.code === code)) byCode.push({ code, key: 'unknown', name: 'a code this rstrace does not know', count });
    }
    const processes: ProcessCount[] = [];
    for (const comms of this.processes.values()) for (const { pid, comm, count } of comms.values()) processes.push({ pid, comm, count });
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
      byKind: Object.fromEntries(KINDS.map((k, i) => [k, this.kindCounts[i]])) as Record<Kind, number>,
      byCode,
      topProcesses: topOf(processes, top, (a, b) => cmp(a.comm ?? '', b.comm ?? '') || (a.pid ?? -1) - (b.pid ?? -1)),
      topPeers: topOf([...this.peers.values()].map(({ raddr, count }) => ({ raddr, count })), top, (a, b) => cmp(a.raddr, b.raddr)),
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
