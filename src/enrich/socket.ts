/**
 * Socket facts as a user reads them, from what the kernel hooks saw: the TCP
 * state when the reset was decided, and the bytes of data still queued each
 * way. Numbers only; names are looked up when an event is printed.
 */
import { FLAG, type RawRecord } from '../decode.js';
import { TCP_STATE } from '../kernel/names.js';

/** The state when the reset was decided, not the CLOSE that tcp_disconnect()/tcp_done() set just before it. */
export function stateBeforeReset(r: RawRecord): number {
  return r.state === TCP_STATE.CLOSE && r.flags & FLAG.PREV_STATE ? r.prevState : r.state;
}

// SYN and FIN take a sequence number each: they are not bytes of data.
const FIN_RECEIVED: ReadonlySet<number> = new Set([TCP_STATE.CLOSE_WAIT, TCP_STATE.LAST_ACK, TCP_STATE.CLOSING]);
const SYN_OR_FIN_UNACKED: ReadonlySet<number> = new Set([
  TCP_STATE.SYN_SENT, TCP_STATE.SYN_RECV, TCP_STATE.FIN_WAIT1, TCP_STATE.CLOSING, TCP_STATE.LAST_ACK,
]);

function dataBytes(seqSpan: number, controlCounted: boolean): number {
  return controlCounted && seqSpan > 0 ? seqSpan - 1 : seqSpan;
}

/** Bytes queued for the application to read; null without a full socket. `state` from stateBeforeReset(). */
export function unreadBytes(r: RawRecord, state: number): number | null {
  return r.flags & FLAG.FULLSOCK ? dataBytes(r.unread, FIN_RECEIVED.has(state)) : null;
}

/** Bytes written but not yet acknowledged; null without a full socket. `state` from stateBeforeReset(). */
export function unsentBytes(r: RawRecord, state: number): number | null {
  return r.flags & FLAG.FULLSOCK ? dataBytes(r.unsent, SYN_OR_FIN_UNACKED.has(state)) : null;
}
