/**
 * Predicates on raw records that both the enricher and the classifier need:
 * kernel facts, named once.
 */
import { FLAG, KIND, type RawRecord } from '../decode.js';
import { ERRNO, SYSCALL, TCP_STATE } from './names.js';

/**
 * tcp_abort(): SOCK_DESTROY (`ss -K`) or bpf_sock_destroy() killed a live
 * connection, in the killer's context, not the owner's. The kernel says
 * TCP_STATE, as for a linger-0 close, but tcp_disconnect() has already moved
 * its socket to CLOSE while tcp_abort() sends from the live state. A
 * connection killed before it needed a RST (SYN_SENT) closes with
 * ECONNABORTED instead.
 */
export function isForeignAbort(r: RawRecord, reason: string | null): boolean {
  if (r.kind === KIND.ABORT) return r.skErr === ERRNO.ECONNABORTED;
  if (r.kind !== KIND.SENT || !(r.flags & FLAG.HAS_SK)) return false;
  if (r.state === TCP_STATE.CLOSE || r.state === TCP_STATE.TIME_WAIT || r.state === TCP_STATE.NEW_SYN_RECV) return false;
  if (reason !== null) return reason === 'TCP_STATE';
  // Without a reason: only tcp_abort() sends from a live state while a task holds the socket.
  return (r.flags & FLAG.IN_TASK) !== 0 && r.state !== TCP_STATE.LISTEN;
}

/** The killer read a BPF iterator (bpf_sock_destroy) rather than asking sock_diag. */
export function killedByBpfIterator(r: RawRecord): boolean {
  if (!(r.flags & FLAG.IN_SYSCALL)) return false;
  return r.syscall === SYSCALL.read || r.syscall === SYSCALL.pread64 || r.syscall === SYSCALL.readv;
}

/**
 * A connection still in a listener's accept queue, reset because the
 * listener was closed: tcp_disconnect() on the child, in the task closing the
 * listener, which never held the child's lock and is its only owner.
 */
export function isListenerCloseChild(r: RawRecord, reason: string | null): boolean {
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
