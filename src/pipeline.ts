/**
 * Raw records -> ResetEvents: reason name, attribution (enricher), code
 * (classifier), wall-clock time, and the user-space half of filtering. One
 * direction only: nothing here reaches back into the kernel side.
 */
import { codeInfo } from './codes.js';
import { classify } from './classify.js';
import { PhantomResetFilter, maybePhantom } from './coalesce.js';
import { AF_INET6, FLAG, KIND, RECORD_SIZE, decodeInto, emptyRecord, type RawRecord } from './decode.js';
import { attribute } from './enrich/attribution.js';
import type { WallClock } from './enrich/clock.js';
import type { OwnerLookup } from './enrich/proc.js';
import type { Kind, ResetEvent } from './event.js';
import { TCP_STATE, tcpStateName, type ReasonNames } from './kernel/names.js';

const KINDS: Record<number, Kind> = { [KIND.SENT]: 'sent', [KIND.RECEIVED]: 'received', [KIND.ABORT]: 'abort' };

// SYN and FIN take a sequence number each: they are not bytes of data.
const FIN_RECEIVED: ReadonlySet<number> = new Set([TCP_STATE.CLOSE_WAIT, TCP_STATE.LAST_ACK, TCP_STATE.CLOSING]);
const SYN_OR_FIN_UNACKED: ReadonlySet<number> = new Set([
  TCP_STATE.SYN_SENT, TCP_STATE.SYN_RECV, TCP_STATE.FIN_WAIT1, TCP_STATE.CLOSING, TCP_STATE.LAST_ACK,
]);

function dataBytes(seqSpan: number, controlCounted: boolean): number {
  return controlCounted && seqSpan > 0 ? seqSpan - 1 : seqSpan;
}

export interface PipelineDeps {
  clock: WallClock;
  /** sockets older than the trace: inode -> owner */
  proc: OwnerLookup;
  reasons: ReasonNames;
  /** user-space filter; events it rejects are counted as filtered */
  keep?: (e: ResetEvent) => boolean;
}

export class Pipeline {
  filtered = 0;
  private readonly phantoms = new PhantomResetFilter();
  /** decoded into, record after record: no allocation per record */
  private readonly scratch = emptyRecord();

  constructor(private readonly deps: PipelineDeps) {}

  reasonOf(r: RawRecord): string | null {
    if (!(r.flags & FLAG.HAS_REASON)) return null;
    return this.deps.reasons.get(r.reason) ?? `UNKNOWN_${r.reason}`;
  }

  toEvent(r: RawRecord): ResetEvent {
    const reason = this.reasonOf(r);
    const owner = attribute(r, reason, this.deps.proc);
    const cls = classify(r, reason);
    const hasSk = (r.flags & FLAG.HAS_SK) !== 0;
    const full = (r.flags & FLAG.FULLSOCK) !== 0;
    // The state when the reset was decided, not the CLOSE set just before it.
    const state = r.state === TCP_STATE.CLOSE && r.flags & FLAG.PREV_STATE ? r.prevState : r.state;
    return {
      time: this.deps.clock.iso(r.bootSec, r.bootNsec),
      kind: KINDS[r.kind] ?? 'sent',
      code: cls.code,
      codeKey: codeInfo(cls.code)?.key ?? 'unknown',
      reason,
      family: r.family === AF_INET6 ? 'ipv6' : 'ipv4',
      laddr: r.laddr,
      lport: r.lport,
      raddr: r.raddr,
      rport: r.rport,
      state: hasSk ? tcpStateName(state) : null,
      pid: owner.pid,
      tid: owner.tid,
      comm: owner.comm,
      attribution: owner.attribution,
      cgroupId: owner.cgroupId,
      netns: r.netns || null,
      unread: full ? dataBytes(r.unread, FIN_RECEIVED.has(state)) : null,
      unsent: full ? dataBytes(r.unsent, SYN_OR_FIN_UNACKED.has(state)) : null,
      cookie: r.cookie || null,
      actorPid: owner.actorPid,
      actorComm: owner.actorComm,
      probes: cls.code === 17 ? r.probes : null,
      explanation: cls.explanation,
    };
  }

  /** One batch as the addon hands it over: `records` back-to-back kernel records. */
  processBatch(batch: Uint8Array, records: number): ResetEvent[] {
    const n = Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    const events = new Array<ResetEvent>(n);
    for (let i = 0; i < n; i++) events[i] = this.tag(decodeInto(this.scratch, batch, dv, i * RECORD_SIZE), i);
    return this.keep(this.phantoms.settle(events));
  }

  /** Already decoded records (tests, tools). */
  process(raws: RawRecord[]): ResetEvent[] {
    return this.keep(this.phantoms.settle(raws.map((r, i) => this.tag(r, i))));
  }

  /** At the end of a trace: events held back for one batch. */
  flush(): ResetEvent[] {
    return this.keep(this.phantoms.flush());
  }

  private tag(r: RawRecord, index: number): ResetEvent {
    const e = this.toEvent(r);
    if (maybePhantom(r)) this.phantoms.candidate(index);
    // Code 1 on a socket in CLOSE can only be TCP_ABORT_ON_DATA (TIME_WAIT has its own state).
    else if (e.code === 1 && r.kind === KIND.SENT && r.state === TCP_STATE.CLOSE && r.cookie) this.phantoms.abortedOnData(r.cookie);
    return e;
  }

  private keep(events: ResetEvent[]): ResetEvent[] {
    const keep = this.deps.keep;
    if (!keep) return events;
    const out: ResetEvent[] = [];
    for (const e of events) {
      if (keep(e)) out.push(e);
      else this.filtered++;
    }
    return out;
  }
}
