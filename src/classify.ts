/**
 * Raw kernel facts -> reset diagnostic code and a short phrase. Pure and
 * table-driven: the kernel's reason picks a row; rows whose reason is
 * ambiguous (TCP_STATE, INVALID_SYN, NO_SOCKET) look at state, flags and
 * context. Without a kernel reason (Linux before 6.10, or --assume-no-reason)
 * the same facts classify the reset on their own.
 */
import { FLAG, KIND, TCP_FLAG, type RawRecord } from './decode.js';
import { isForeignAbort, isListenerCloseChild, killedByBpfIterator } from './kernel/facts.js';
import { ERRNO, SYSCALL, TCP_STATE, errnoName, tcpStateName } from './kernel/names.js';

export interface Classification {
  code: number;
  explanation: string;
}

type Rule = (r: RawRecord) => Classification;

const has = (r: RawRecord, f: number): boolean => (r.flags & f) !== 0;

// Phrases without per-event values are shared objects: a storm allocates nothing here.
const SYN_NO_LISTENER: Classification = { code: 11, explanation: 'SYN to a port with no listener' };
const REFUSED: Classification = { code: 0, explanation: 'connection refused by the peer' };
const strayByFlags = new Map<number, Classification>();

const noSocket: Rule = (r) => {
  if (r.tcpFlags & TCP_FLAG.SYN && !(r.tcpFlags & TCP_FLAG.ACK)) return SYN_NO_LISTENER;
  let c = strayByFlags.get(r.tcpFlags);
  if (!c) {
    c = { code: 1, explanation: `segment for a connection that does not exist (${flagsText(r.tcpFlags)})` };
    strayByFlags.set(r.tcpFlags, c);
  }
  return c;
};

const disconnect: Rule = (r) => {
  if (has(r, FLAG.LINGER0)) return { code: 6, explanation: 'close() with SO_LINGER {1,0}' };
  if (has(r, FLAG.IN_SYSCALL) && r.syscall === SYSCALL.connect) {
    return { code: 6, explanation: 'connect(AF_UNSPEC) dropped the connection' };
  }
  if (isListenerCloseChild(r, null)) {
    return { code: 6, explanation: 'listener closed with this connection still in its accept queue' };
  }
  return { code: 6, explanation: 'the application aborted the connection' };
};

const foreignAbort: Rule = (r) =>
  killedByBpfIterator(r)
    ? { code: 8, explanation: `destroyed by a BPF program (bpf_sock_destroy) run by ${r.ctxComm || 'the kernel'}` }
    : { code: 13, explanation: `killed by ${r.ctxComm || 'an administrator'} (SOCK_DESTROY)` };

/** Rows by the kernel's `sk_rst_reason` name. */
const BY_REASON: Record<string, Rule> = {
  NO_SOCKET: noSocket,
  TCP_INVALID_ACK_SEQUENCE: () => ({ code: 2, explanation: 'ACK for data never sent' }),
  TCP_RFC7323_PAWS: () => ({ code: 2, explanation: 'segment failed the PAWS timestamp check' }),
  TCP_TOO_OLD_ACK: () => ({ code: 2, explanation: 'ACK older than the window' }),
  TCP_ACK_UNSENT_DATA: () => ({ code: 2, explanation: 'ACK for unsent data' }),
  TCP_OLD_ACK: () => ({ code: 2, explanation: 'old ACK in SYN_RECV' }),
  TCP_FLAGS: (r) => ({ code: 10, explanation: `invalid flags ${flagsText(r.tcpFlags)} for the state` }),
  TCP_ABORT_ON_DATA: () => ({ code: 1, explanation: 'data arrived after the application closed' }),
  TCP_TIMEWAIT_SOCKET: () => ({ code: 1, explanation: 'segment hit a closed connection (TIME_WAIT)' }),
  INVALID_SYN: (r) =>
    r.state === TCP_STATE.LISTEN && has(r, FLAG.ACCEPTQ_FULL)
      ? { code: 14, explanation: 'accept queue full (tcp_abort_on_overflow)' }
      : { code: 3, explanation: 'SYN in an invalid state' },
  TCP_ABORT_ON_CLOSE: (r) => ({ code: 16, explanation: `closed with ${r.unread} unread byte${r.unread === 1 ? '' : 's'}` }),
  TCP_ABORT_ON_LINGER: () => ({ code: 6, explanation: 'FIN_WAIT2 aborted (TCP_LINGER2 < 0)' }),
  TCP_ABORT_ON_MEMORY: () => ({ code: 14, explanation: 'aborted for lack of memory or too many orphans' }),
  TCP_STATE: (r) => {
    if (r.state === TCP_STATE.CLOSE) return disconnect(r);
    if (isForeignAbort(r, 'TCP_STATE')) return foreignAbort(r);
    return { code: 10, explanation: `reset from state ${tcpStateName(r.state) ?? r.state}` };
  },
  TCP_KEEPALIVE_TIMEOUT: (r) => ({ code: 17, explanation: `keepalive: ${r.probes} probe${r.probes === 1 ? '' : 's'} unanswered` }),
  TCP_DISCONNECT_WITH_DATA: () => ({ code: 6, explanation: 'disconnect with data unsent' }),
};

function flagsText(f: number): string {
  const names: string[] = [];
  if (f & TCP_FLAG.SYN) names.push('SYN');
  if (f & TCP_FLAG.ACK) names.push('ACK');
  if (f & TCP_FLAG.FIN) names.push('FIN');
  if (f & TCP_FLAG.RST) names.push('RST');
  if (f & TCP_FLAG.PSH) names.push('PSH');
  return names.length ? names.join('|') : 'no flags';
}

/** Sent resets when the kernel gives no reason: the same facts, without the label. */
function sentWithoutReason(r: RawRecord): Classification {
  if (!has(r, FLAG.HAS_SK)) return noSocket(r);
  if (r.state === TCP_STATE.TIME_WAIT) return BY_REASON.TCP_TIMEWAIT_SOCKET(r);
  if (r.state === TCP_STATE.LISTEN) return BY_REASON.INVALID_SYN(r);
  if (isForeignAbort(r, null)) return foreignAbort(r);
  if (r.state === TCP_STATE.CLOSE) {
    // __tcp_close() checks unread data before linger; AF_UNSPEC never looks at it.
    const inConnect = has(r, FLAG.IN_SYSCALL) && r.syscall === SYSCALL.connect;
    if (!inConnect && has(r, FLAG.IN_TASK) && has(r, FLAG.FULLSOCK) && r.unread > 0) {
      return BY_REASON.TCP_ABORT_ON_CLOSE(r);
    }
    if (has(r, FLAG.DEAD) && has(r, FLAG.RCV_SHUTDOWN) && !has(r, FLAG.IN_TASK)) {
      return BY_REASON.TCP_ABORT_ON_DATA(r);
    }
    return disconnect(r);
  }
  if (has(r, FLAG.KEEPALIVE) && r.probes > 0 && !has(r, FLAG.IN_TASK)) return BY_REASON.TCP_KEEPALIVE_TIMEOUT(r);
  return { code: 10, explanation: `reset from state ${tcpStateName(r.state) ?? r.state}` };
}

const ICMP_ERRORS: ReadonlySet<number> = new Set([
  ERRNO.EHOSTUNREACH, ERRNO.ENETUNREACH, ERRNO.ECONNREFUSED, ERRNO.EACCES, ERRNO.EHOSTDOWN,
  ERRNO.ENONET, ERRNO.EPROTO,
]);

function abort(r: RawRecord): Classification {
  const from = tcpStateName(r.state) ?? String(r.state);
  if (isForeignAbort(r, null)) return foreignAbort(r);
  if (r.skErr === ERRNO.ETIMEDOUT) {
    if (r.state === TCP_STATE.SYN_SENT || r.state === TCP_STATE.SYN_RECV) {
      return { code: 15, explanation: 'no answer to SYN: connect() timed out' };
    }
    return {
      code: 18,
      explanation: has(r, FLAG.USER_TIMEOUT)
        ? 'unacknowledged data outlived TCP_USER_TIMEOUT'
        : 'retransmissions exhausted (tcp_retries2)',
    };
  }
  if (ICMP_ERRORS.has(r.skErr)) {
    return { code: 9, explanation: `ICMP unreachable in ${from}: ${errnoName(r.skErr)}` };
  }
  return { code: 10, explanation: `aborted in ${from} with ${errnoName(r.skErr)}` };
}

export function classify(r: RawRecord, reason: string | null): Classification {
  if (r.kind === KIND.RECEIVED) {
    return r.state === TCP_STATE.SYN_SENT ? REFUSED : { code: 0, explanation: `reset by the peer in ${tcpStateName(r.state) ?? r.state}` };
  }
  if (r.kind === KIND.ABORT) return abort(r);
  if (reason === null) return sentWithoutReason(r);
  const rule = BY_REASON[reason];
  if (rule) return rule(r);
  return { code: 10, explanation: `kernel reason ${reason}` };
}
