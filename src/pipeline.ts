/**
 * Raw records -> what the sinks need, one direction only: decoder (decode.ts)
 * -> enricher (kernel reason name, socket facts, attribution from the
 * classifier's actor) -> classifier (classify.ts) -> phantom-reset filter and
 * the user-space filter -> sinks. This module wires the steps; each step is
 * its own module.
 *
 * Per record the hot paths reuse one decoded record, one verdict, one owner
 * and one event object: eachEvent() hands the sinks an event that is valid
 * only during the call, and countBatch() builds no event and no string at all
 * when counting is all a sink does (metrics).
 */
import { classifyInto, emptyVerdict, type Verdict } from './classify.js';
import { AF_INET6, FLAG, KIND, RECORD_SIZE, decodeInto, emptyRecord, type RawRecord } from './decode.js';
import { attributeInto, emptyOwner } from './enrich/attribution.js';
import type { CgroupLookup, CgroupName } from './enrich/cgroup.js';
import { isoToMs, type WallClock } from './enrich/clock.js';
import { ownerGroupOf, type OwnerGroup } from './enrich/container.js';
import type { OwnerLookup } from './enrich/proc.js';
import { stateBeforeReset, unreadBytes, unsentBytes } from './enrich/socket.js';
import { codeInfo } from './codes.js';
import type { ResetEvent } from './event.js';
import { KIND_NUMBER, TCP_STATE, kindName, reasonName, tcpStateName, type ReasonNames } from './kernel/names.js';
import { PhantomResetFilter } from './phantom-reset-filter.js';
import { ResetSignals } from './signals.js';


export interface PipelineDeps {
  clock: WallClock;
  /** sockets older than the trace: inode -> owner */
  proc: OwnerLookup;
  reasons: ReasonNames;
  /** skb_drop_reason names, for ignored RSTs (default: this kernel's, from BTF) */
  dropReasons?: ReasonNames;
  /** cgroup id -> path, container, unit (none: events carry null) */
  cgroups?: CgroupLookup;
  /** user-space filter; events it rejects are counted as filtered */
  keep?: (e: ResetEvent) => boolean;
}

/** A sink that only counts resets, by small integers: the record's KIND, the code, the owner's name and group (container or unit). */
export interface ResetCounter {
  count(kind: number, code: number, comm: string | null, group: OwnerGroup | null): void;
}

/**
 * Gets each event that passes, valid during the call only; with its time as
 * numbers, the same instant as `e.time`: `ms` since the epoch (NaN if not
 * known) and `subNs`, the ns past that ms (-1 if not known).
 */
export type EventVisitor = (e: ResetEvent, ms: number, subNs: number) => void;

export function emptyEvent(): ResetEvent {
  return {
    time: '', kind: 'sent', code: 0, codeKey: '', reason: null, family: 'ipv4', laddr: '', lport: 0, raddr: '',
    rport: 0, state: null, pid: null, tid: null, comm: null, attribution: 'none', cgroupId: null, netns: null,
    unread: null, unsent: null, cookie: null, actorPid: null, actorComm: null, probes: null, explanation: '',
    cgroup: null, container: null, signals: null,
  };
}

export class Pipeline {
  filtered = 0;
  private readonly phantoms = new PhantomResetFilter();
  private readonly signals = new ResetSignals();
  /** decoded into, record after record */
  private readonly scratch = emptyRecord();
  private readonly verdict: Verdict = emptyVerdict();
  private readonly owner = emptyOwner();
  private readonly event = emptyEvent();
  private reason: string | null = null;
  /** a storm repeats one owner cgroup: its name without a lookup */
  private lastCgroupId = 0;
  private lastCgroup: CgroupName | null = null;

  constructor(private readonly deps: PipelineDeps) {}

  /**
   * One batch as the addon hands it over (`records` back-to-back kernel
   * records): calls `visit` with each event that passes the filters and
   * returns how many did. The event object is reused: a sink that keeps it
   * past the call copies it.
   */
  eachEvent(batch: Uint8Array, records: number, visit: EventVisitor): number {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    return this.run(batchSize(batch, records), (i) => decodeInto(this.scratch, batch, dv, i * RECORD_SIZE), visit);
  }

  /**
   * One batch, counted: what eachEvent() would pass on, as (kind, code, comm)
   * per event, without building events. Returns how many were counted.
   */
  countBatch(batch: Uint8Array, records: number, counter: ResetCounter): number {
    const countEvent = (e: ResetEvent): void => counter.count(KIND_NUMBER[e.kind], e.code, e.comm, ownerGroupOf(e.cgroup));
    // The user-space filter judges whole events.
    if (this.deps.keep) return this.eachEvent(batch, records, countEvent);
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    const n = batchSize(batch, records);
    const at = (i: number): RawRecord => decodeInto(this.scratch, batch, dv, i * RECORD_SIZE);
    let counted = 0;
    this.walk(n, at, (e) => { countEvent(e); counted++; }, (r, v) => {
      const owner = attributeInto(this.owner, r, v.actor, this.deps.proc);
      counter.count(r.kind, v.phrase.code, owner.comm, this.cgroupOf(owner.cgroupId, owner.pid)?.group ?? null);
      counted++;
    });
    return counted;
  }

  /** One batch as an array of events of their own (tools, tests, sinks that keep events). */
  processBatch(batch: Uint8Array, records: number): ResetEvent[] {
    const out: ResetEvent[] = [];
    this.eachEvent(batch, records, (e) => out.push({ ...e }));
    return out;
  }

  /** Already decoded records (tests, tools). */
  process(raws: RawRecord[]): ResetEvent[] {
    const out: ResetEvent[] = [];
    this.run(raws.length, (i) => raws[i], (e) => out.push({ ...e }));
    return out;
  }

  /** At the end of a trace: events held back for one batch. */
  flush(): ResetEvent[] {
    return this.phantoms.flush().filter((e) => this.passes(e));
  }

  private run(n: number, at: (i: number) => RawRecord, visit: EventVisitor): number {
    let passed = 0;
    const clock = this.deps.clock;
    // a held event's time is read back from its text (ms only: rare); a fresh one's is what the clock just wrote
    const released = (e: ResetEvent): void => {
      if (this.passes(e)) { visit(e, isoToMs(e.time), -1); passed++; }
    };
    this.walk(n, at, released, (r, v) => {
      const e = this.fill(this.event, r, v);
      if (this.passes(e)) { visit(e, clock.lastMs, clock.lastSubNs); passed++; }
    });
    return passed;
  }

  /**
   * One batch's records in order, phantom candidates held back for one batch:
   * `released` gets the held events that proved real, `each` every other
   * record with its verdict (counting needs no event, so none is filled here).
   */
  private walk(n: number, at: (i: number) => RawRecord, released: (e: ResetEvent) => void,
    each: (r: RawRecord, v: Verdict) => void): void {
    this.releaseHeld(n, at, released);
    for (let i = 0; i < n; i++) {
      const r = at(i);
      const v = this.judge(r);
      if (this.phantoms.isCandidate(r)) {
        this.phantoms.hold(this.fill(emptyEvent(), r, v));
        continue;
      }
      this.phantoms.observe(r, v.phrase.code);
      each(r, v);
    }
    this.phantoms.endBatch();
  }

  private releaseHeld(n: number, at: (i: number) => RawRecord, emit: (e: ResetEvent) => void): void {
    if (!this.phantoms.holding) return;
    for (let i = 0; i < n; i++) {
      const r = at(i);
      if (r.kind === KIND.SENT && r.state === TCP_STATE.CLOSE && r.cookie) this.phantoms.observe(r, this.judge(r).phrase.code);
    }
    for (const e of this.phantoms.release()) emit(e);
  }

  private judge(r: RawRecord): Verdict {
    this.reason = reasonName(this.deps.reasons, r, this.deps.dropReasons);
    return classifyInto(this.verdict, r, this.reason, this.signals.madeByFirewall(r));
  }

  private passes(e: ResetEvent): boolean {
    const keep = this.deps.keep;
    if (!keep || keep(e)) return true;
    this.filtered++;
    return false;
  }

  /** The event for `r` (just judged), written into `e`. */
  private fill(e: ResetEvent, r: RawRecord, v: Verdict): ResetEvent {
    const owner = attributeInto(this.owner, r, v.actor, this.deps.proc);
    const code = v.phrase.code;
    const state = stateBeforeReset(r);
    e.time = this.deps.clock.iso(r.bootSec, r.bootNsec);
    e.kind = kindName(r.kind);
    e.code = code;
    e.codeKey = codeInfo(code)?.key ?? 'unknown';
    e.reason = this.reason;
    e.family = r.family === AF_INET6 ? 'ipv6' : 'ipv4';
    e.laddr = r.laddr;
    e.lport = r.lport;
    e.raddr = r.raddr;
    e.rport = r.rport;
    e.state = r.flags & FLAG.HAS_SK ? tcpStateName(state) : null;
    e.pid = owner.pid;
    e.tid = owner.tid;
    e.comm = owner.comm;
    e.attribution = owner.attribution;
    e.cgroupId = owner.cgroupId;
    e.netns = r.netns || null;
    e.unread = unreadBytes(r, state);
    e.unsent = unsentBytes(r, state);
    e.cookie = r.cookie || null;
    e.actorPid = owner.actorPid;
    e.actorComm = owner.actorComm;
    e.probes = code === 17 ? r.probes : null;
    e.explanation = v.phrase.text(r);
    const cg = this.cgroupOf(owner.cgroupId, owner.pid);
    e.cgroup = cg === null ? null : cg.path;
    e.container = cg === null ? null : cg.container;
    e.signals = this.signals.observe(r);
    return e;
  }

  private cgroupOf(id: number | null, pid: number | null): CgroupName | null {
    if (id === null || !this.deps.cgroups) return null;
    if (id === this.lastCgroupId) return this.lastCgroup;
    const name = this.deps.cgroups.nameOf(id, pid);
    // only names are remembered: a miss may be answered later (a rescan)
    if (name !== null) { this.lastCgroupId = id; this.lastCgroup = name; }
    return name;
  }
}

function batchSize(batch: Uint8Array, records: number): number {
  return Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
}
