/**
 * Who a reset belongs to. The task running a hook is often not the owner (on
 * loopback the peer's RST is processed in the sender's task; timers and
 * softirq run in whatever task they interrupted; `ss -K` runs as ss), so the
 * kernel side says whether the context task held the socket lock (it is the
 * actor on this socket) and what owner it remembered for the socket cookie.
 * Sockets older than the trace are found through /proc.
 */
import { FLAG, type RawRecord } from '../decode.js';
import type { Attribution } from '../event.js';
import { isForeignAbort, isListenerCloseChild } from '../kernel/facts.js';
import type { OwnerLookup } from './proc.js';

export interface Owner {
  attribution: Attribution;
  pid: number | null;
  tid: number | null;
  comm: string | null;
  cgroupId: number | null;
  /** the process that killed someone else's connection (codes 8 and 13) */
  actorPid: number | null;
  actorComm: string | null;
}

const NOBODY: Owner = {
  attribution: 'none', pid: null, tid: null, comm: null, cgroupId: null, actorPid: null, actorComm: null,
};

export function attribute(r: RawRecord, reason: string | null, proc: OwnerLookup): Owner {
  if (!(r.flags & FLAG.HAS_SK)) return NOBODY;
  const cgroupId = r.cgroupId || null;
  if (isForeignAbort(r, reason)) {
    const actor = { actorPid: r.ctxPid || null, actorComm: r.ctxComm || null };
    if (r.flags & FLAG.OWNER_KNOWN) {
      return { attribution: 'owner', pid: r.ownerPid, tid: r.ownerTid, comm: r.ownerComm, cgroupId, ...actor };
    }
    const p = proc.ownerOf(r.ino);
    if (p) return { attribution: 'proc', pid: p.pid, tid: null, comm: p.comm, cgroupId: null, ...actor };
    return { ...NOBODY, ...actor };
  }
  if ((r.flags & FLAG.IN_TASK && r.ctxPid !== 0) || isListenerCloseChild(r, reason)) {
    return {
      attribution: 'context', pid: r.ctxPid, tid: r.ctxTid, comm: r.ctxComm, cgroupId, actorPid: null, actorComm: null,
    };
  }
  if (r.flags & FLAG.OWNER_KNOWN) {
    return {
      attribution: 'owner', pid: r.ownerPid, tid: r.ownerTid, comm: r.ownerComm, cgroupId, actorPid: null, actorComm: null,
    };
  }
  const p = proc.ownerOf(r.ino);
  if (p) return { attribution: 'proc', pid: p.pid, tid: null, comm: p.comm, cgroupId: null, actorPid: null, actorComm: null };
  return NOBODY;
}
