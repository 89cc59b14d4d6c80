/**
 * Who acted on the socket when it was reset: the task that held it (or no
 * task), another process that killed it, or the process closing the listener
 * whose accept queue held it. Decided once per record, by the classifier; the
 * enricher attributes the event from that answer instead of testing the
 * record again.
 */
import { FLAG, KIND, type RawRecord } from './decode.js';
import { ERRNO, TCP_STATE } from './kernel/names.js';

export const ACTOR = {
  /** the socket's own task, or a timer/softirq acting for it */
  OWN: 0,
  /** another process killed it (SOCK_DESTROY, bpf_sock_destroy): it is the actor, not the owner */
  FOREIGN: 1,
  /** never accepted, reset because its listener was closed: the closer is its only owner */
  LISTENER_CLOSE: 2,
} as const;
export type Actor = (typeof ACTOR)[keyof typeof ACTOR];

export function actorOf(r: RawRecord, reason: string | null): Actor {
  if (isForeignAbort(r, reason)) return ACTOR.FOREIGN;
  if (isListenerCloseChild(r, reason)) return ACTOR.LISTENER_CLOSE;
  return ACTOR.OWN;
}

/**
 * tcp_abort(): SOCK_DESTROY (`ss -K`) or bpf_sock_destroy() killed a live
 * connection, in the killer's context, not the owner's. The kernel says
 * TCP_STATE, as for a linger-0 close, but tcp_disconnect() has already moved
 * its socket to CLOSE while tcp_abort() sends from the live state. A
 * connection killed before it needed a RST (SYN_SENT) closes with
 * ECONNABORTED instead.
 */
function isForeignAbort(r: RawRecord, reason: string | null): boolean {
  if (r.kind === KIND.ABORT) return r.skErr === ERRNO.ECONNABORTED;
  if (r.kind !== KIND.SENT || !(r.flags & FLAG.HAS_SK)) return false;
  if (r.state === TCP_STATE.CLOSE || r.state === TCP_STATE.TIME_WAIT || r.state === TCP_STATE.NEW_SYN_RECV) return false;
  if (reason !== null) return reason === 'TCP_STATE';
  // Without a reason: only tcp_abort() sends from a live state while a task holds the socket.
  return (r.flags & FLAG.IN_TASK) !== 0 && r.state !== TCP_STATE.LISTEN;
}

/**
 * A connection still in a listener's accept queue, reset because the
 * listener was closed: tcp_disconnect() on the child, in the task closing the
 * listener, which never held the child's lock and is its only owner.
 */
function isListenerCloseChild(r: RawRecord, reason: string | null): boolean {
  return (
    r.kind === KIND.SENT &&
    (reason === null || reason === 'TCP_STATE') &&
    r.state === TCP_STATE.CLOSE &&
    (r.flags & (FLAG.HAS_SK | FLAG.IN_TASK | FLAG.PREV_STATE)) === (FLAG.HAS_SK | FLAG.PREV_STATE) &&
    // never accepted: nobody but its listener's process is known for it
    (!(r.flags & FLAG.OWNER_KNOWN) || (r.flags & FLAG.OWNER_LISTENER) !== 0) &&
    r.ctxPid !== 0
  );
}
