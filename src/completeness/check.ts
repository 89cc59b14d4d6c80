/**
 * The completeness check: for each network namespace rstrace can reach, the
 * kernel's own TcpOutRsts growth over the trace against the tcp_send_reset
 * hits the BPF side counted there (bpf/netns-count.bpf.h, before any filter
 * or ring reserve), with what reached rstrace beside it. Equal means the
 * hook saw every RST the TCP stack counted; the records that then did not
 * reach rstrace (filtered in the kernel, lost with the ring full) are
 * counted apart, never hidden. Firewall-made RSTs are in neither number.
 *
 * A reading is not atomic with the hook: hits are read before and after
 * each namespace's counter, and the readings are repeated (up to 3 times)
 * until no hit fell between; what still did is the check's `slack`.
 */
import { HOOK, KIND, OFFSETS, RECORD_SIZE } from '../decode.js';
import type { SendResetsByNetns } from '../kernel/addon.js';
import { readOutRsts, type OutRstsReading } from '../kernel/snmp.js';
import { MAX_NAMESPACES, findNamespace, reachableNamespaces, type NamespaceScan, type ReachableNetns } from './namespaces.js';

export type CheckStatus = 'equal' | 'differs' | 'unchecked';

/** One namespace's check; the list of them is `kernel` in the trace trailer and in `report --json`. */
export interface NetnsCheck {
  netns: number;
  /** `host`, `rstrace`, a /run/netns name, `pid 123 (comm)`, or `unattributed` (netns 0: hits with no namespace, or past the map's bound) */
  name: string;
  /** TcpOutRsts growth between the first and the last reading; null when unchecked */
  outRsts: number | null;
  /** tcp_send_reset hits in the kernel between the same readings; null when unchecked */
  hooked: number | null;
  /** hits that fell within the readings themselves: how far the two may differ and still be equal (0 on a quiet host) */
  slack: number;
  /** `sent` records from tcp_send_reset in this namespace that reached rstrace (before user-space filters) */
  seenSent: number;
  /** tcp_send_reset hits of the whole trace that did not reach rstrace: filtered in the kernel or lost (ring full) */
  notDelivered: number;
  status: CheckStatus;
  /** why a namespace is unchecked */
  note: string | null;
}

interface Reading {
  outRsts: number;
  /** hits just before and just after the counter was read */
  lo: number;
  hi: number;
}

interface Tracked extends ReachableNetns {
  first: Reading | null;
  last: Reading | null;
  /** the namespace could not be entered at the last attempt */
  gone: boolean;
}

export interface CheckDeps {
  hits: () => SendResetsByNetns;
  read?: (path: string) => OutRstsReading | null;
  scan?: () => NamespaceScan;
  find?: (netns: number) => string | null;
}

const PASSES = 3;
const KIND_AT = OFFSETS.kind;
const HOOK_AT = OFFSETS.hook;
const NETNS_AT = OFFSETS.netns;

function hitMap(h: SendResetsByNetns): Map<number, number> {
  const m = new Map<number, number>();
  for (const [ns, n] of h.byNetns) m.set(ns, n);
  if (h.overflow) m.set(0, (m.get(0) ?? 0) + h.overflow);
  return m;
}

export class KernelCheck {
  private readonly tracked = new Map<number, Tracked>();
  private readonly seen = new Map<number, number>();
  private readonly read: (path: string) => OutRstsReading | null;
  private readonly scan: () => NamespaceScan;
  private readonly find: (netns: number) => string | null;
  private leftOut = 0;
  /** namespaces adopt() found no way into */
  private readonly unreachable = new Set<number>();

  constructor(private readonly deps: CheckDeps) {
    this.read = deps.read ?? readOutRsts;
    this.scan = deps.scan ?? (() => reachableNamespaces());
    this.find = deps.find ?? ((ns) => findNamespace(ns));
  }

  /** The first readings: right after attach, before any event is expected. */
  start(): void {
    this.discover();
    this.readAll([...this.tracked.values()], 'first');
  }

  /**
   * Namespaces that the hook saw RSTs in but that were not reachable at the
   * start (a container started during the trace): found now, through a
   * process in them or a /run/netns name, and checked from their first
   * reading on. Cheap when nothing is new (one walk of the hit map); a
   * namespace found nowhere is not looked for again.
   */
  adopt(): void {
    const fresh = [...hitMap(this.deps.hits()).keys()].filter((ns) => ns !== 0 && !this.tracked.has(ns) && !this.unreachable.has(ns));
    if (fresh.length === 0 || this.tracked.size >= MAX_NAMESPACES) return;
    const found = new Map(this.scan().found.map((n) => [n.netns, n]));
    const adopted: Tracked[] = [];
    for (const ns of fresh) {
      const n = found.get(ns);
      if (!n || this.tracked.size >= MAX_NAMESPACES) { this.unreachable.add(ns); continue; }
      const t: Tracked = { ...n, first: null, last: null, gone: false };
      this.tracked.set(ns, t);
      adopted.push(t);
    }
    this.readAll(adopted, 'first');
  }

  /** Namespaces seen for the first time now get their first reading (metrics: containers come and go). */
  discover(): void {
    const { found, leftOut } = this.scan();
    this.leftOut = leftOut;
    const fresh = found.filter((n) => !this.tracked.has(n.netns));
    for (const n of fresh) this.tracked.set(n.netns, { ...n, first: null, last: null, gone: false });
  }

  /**
   * Counts the `sent` records from tcp_send_reset per namespace, as batches
   * arrive: two byte loads a record; consecutive records of a storm share
   * a namespace, so the Map is touched once per run.
   */
  countBatch(batch: Uint8Array, records: number): void {
    const n = Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
    // records are 4-byte aligned in every buffer the addon and the queue hand over; a word view reads netns in one load
    const words = batch.byteOffset % 4 === 0 ? new Uint32Array(batch.buffer, batch.byteOffset, (n * RECORD_SIZE) / 4) : null;
    const dv = words ? null : new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    let run = -1;
    let count = 0;
    for (let r = 0, base = 0; r < n; r++, base += RECORD_SIZE) {
      if (batch[base + HOOK_AT] !== HOOK.SEND_RESET || batch[base + KIND_AT] !== KIND.SENT) continue;
      const ns = words ? words[(base + NETNS_AT) >> 2] : (dv as DataView).getUint32(base + NETNS_AT, true);
      if (ns !== run) {
        if (count) this.seen.set(run, (this.seen.get(run) ?? 0) + count);
        run = ns;
        count = 0;
      }
      count++;
    }
    if (count) this.seen.set(run, (this.seen.get(run) ?? 0) + count);
  }

  /** The last readings: while the hooks are still attached, so that both numbers cover one window. */
  end(): void {
    this.readAll([...this.tracked.values()].filter((t) => t.first !== null), 'last');
  }

  /** Namespaces with a first reading get one now too (new ones get their first), for a check from start to now. */
  refresh(): void {
    this.discover();
    const all = [...this.tracked.values()];
    this.readAll(all.filter((t) => t.first === null), 'first');
    this.readAll(all.filter((t) => t.first !== null), 'last');
  }

  /** The check, with `final` the hits as the tracer counted them to the end (after detach). */
  result(final: SendResetsByNetns = this.deps.hits()): NetnsCheck[] {
    const hits = hitMap(final);
    const ids = new Set<number>([...this.tracked.keys(), ...hits.keys(), ...this.seen.keys()]);
    const out: NetnsCheck[] = [];
    for (const netns of [...ids].sort((a, b) => a - b)) {
      const t = this.tracked.get(netns);
      const seenSent = this.seen.get(netns) ?? 0;
      const total = hits.get(netns) ?? 0;
      const base = { netns, name: netns === 0 ? 'unattributed' : t?.name ?? 'not reached', seenSent, notDelivered: Math.max(0, total - seenSent) };
      const f = t?.first, l = t?.last;
      if (!f || !l || t.gone) {
        if (!t && total === 0 && seenSent === 0) continue;
        out.push({ ...base, outRsts: null, hooked: null, slack: 0, status: 'unchecked', note: this.whyUnchecked(netns, t) });
        continue;
      }
      const outRsts = l.outRsts - f.outRsts;
      // the hits at the two counter readings lie within [lo, hi] of each
      const least = l.lo - f.hi, most = l.hi - f.lo;
      out.push({
        ...base, outRsts, hooked: l.lo - f.lo, slack: most - least,
        status: outRsts >= least && outRsts <= most ? 'equal' : 'differs', note: null,
      });
    }
    return out;
  }

  private whyUnchecked(netns: number, t: Tracked | undefined): string {
    if (netns === 0) return 'tcp_send_reset saw no namespace, or more namespaces than the BPF map holds';
    if (!t) return this.leftOut ? `not read (more than ${this.tracked.size} namespaces; the rest are left out)` : 'not reachable (no process in it and no /run/netns name when rstrace looked)';
    if (!t.first) return 'its counter could not be read at the start';
    return 'gone before the end (its counter could not be read again)';
  }

  private readAll(list: Tracked[], which: 'first' | 'last'): void {
    let pending = list;
    for (let pass = 0; pass < PASSES && pending.length; pass++) {
      const lo = hitMap(this.deps.hits());
      const readings = pending.map((t) => [t, this.readOne(t)] as const);
      const hi = hitMap(this.deps.hits());
      const again: Tracked[] = [];
      for (const [t, r] of readings) {
        if (!r) { t.gone = true; continue; }
        t.gone = false;
        const reading = { outRsts: r.outRsts, lo: lo.get(t.netns) ?? 0, hi: hi.get(t.netns) ?? 0 };
        const prev = pass === 0 ? null : t[which];
        if (!prev || reading.hi - reading.lo < prev.hi - prev.lo) t[which] = reading;
        if (reading.hi !== reading.lo) again.push(t);
      }
      pending = again;
    }
  }

  /** Reads through the remembered path; when that now names another namespace (the process left), through any process still in it. */
  private readOne(t: Tracked): OutRstsReading | null {
    const r = this.read(t.path);
    if (r && r.netns === t.netns) return r;
    const path = this.find(t.netns);
    if (!path) return null;
    t.path = path;
    const again = this.read(path);
    return again && again.netns === t.netns ? again : null;
  }
}
