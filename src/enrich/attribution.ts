/**
 * Who a reset belongs to. The task running a hook is often not the owner (on
 * loopback the peer's RST is processed in the sender's task; timers and
 * softirq run in whatever task they interrupted; `ss -K` runs as ss), so the
 * kernel side says whether the context task held the socket lock (it is the
 * actor on this socket) and what owner it remembered for the socket cookie.
 * The classifier has already said who acted (actor.ts); sockets older than
 * the trace are found through an OwnerLookup (/proc when live).
 */
import { ACTOR, type Actor } from '../actor.js';
import { FLAG, type RawRecord } from '../decode.js';
import type { Attribution } from '../event.js';
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

export function emptyOwner(): Owner {
  return { attribution: 'none', pid: null, tid: null, comm: null, cgroupId: null, actorPid: null, actorComm: null };
}

function set(o: Owner, attribution: Attribution, pid: number | null, tid: number | null, comm: string | null, cgroupId: number | null): Owner {
  o.attribution = attribution;
  o.pid = pid;
  o.tid = tid;
  o.comm = comm;
  o.cgroupId = cgroupId;
  return o;
}

/** Attributes `r` into `out` (reused by the caller): no allocation per record. */
export function attributeInto(out: Owner, r: RawRecord, actor: Actor, proc: OwnerLookup): Owner {
  out.actorPid = null;
  out.actorComm = null;
  if (!(r.flags & FLAG.HAS_SK)) return set(out, 'none', null, null, null, null);
  const cgroupId = r.cgroupId || null;
  if (actor === ACTOR.FOREIGN) {
    out.actorPid = r.ctxPid || null;
    out.actorComm = r.ctxComm || null;
  } else if ((r.flags & FLAG.IN_TASK && r.ctxPid !== 0) || actor === ACTOR.LISTENER_CLOSE) {
    return set(out, 'context', r.ctxPid, r.ctxTid, r.ctxComm, cgroupId);
  }
  if (r.flags & FLAG.OWNER_KNOWN) return set(out, 'owner', r.ownerPid, r.ownerTid, r.ownerComm, cgroupId);
  const p = proc.ownerOf(r.ino);
  if (p) return set(out, 'proc', p.pid, null, p.comm, null);
  return set(out, 'none', null, null, null, null);
}

export function attribute(r: RawRecord, actor: Actor, proc: OwnerLookup): Owner {
  return attributeInto(emptyOwner(), r, actor, proc);
}
