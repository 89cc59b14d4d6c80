/**
 * Raw kernel facts -> reset diagnostic code, a phrase that explains it, and
 * who acted. Pure and table-driven: the kernel's reason picks a row; rows
 * whose reason is ambiguous (TCP_STATE, INVALID_SYN, NO_SOCKET) look at state,
 * flags and context. Without a kernel reason (Linux before 6.10, or
 * --assume-no-reason) the same facts classify the reset on their own.
 *
 * The answer is small: a shared Phrase (its code and how to word it) and an
 * Actor number. The words are built only when an event is printed, so a sink
 * that only counts (metrics) pays for no string.
 */
import { ACTOR, actorOf, type Actor } from './actor.js';
import { FLAG, HOOK, KIND, TCP_FLAG, type RawRecord } from './decode.js';
import { ERRNO, SYSCALL, TCP_STATE, errnoName, tcpStateName } from './kernel/names.js';

/** One row's explanation: shared by every reset it explains. */
export interface Phrase {
  readonly code: number;
  /** the one-line explanation, worded with the record's own values where it names them */
  text(r: RawRecord): string;
}

/** The classifier's answer for one record; the pipeline reuses one. */
export interface Verdict {
  phrase: Phrase;
  actor: Actor;
}

/** The answer as words, for tests and tools. */
export interface Classification {
  code: number;
  explanation: string;
}

type Rule = (r: RawRecord, actor: Actor) => Phrase;

const has = (r: RawRecord, f: number): boolean => (r.flags & f) !== 0;

function fixed(code: number, text: string): Phrase {
  return { code, text: () => text };
}

/**
 * A phrase that names a value with few distinct values (a state, flags, an
 * errno, a process name): each wording is built once and kept.
 */
function keyed<K extends number | string>(code: number, key: (r: RawRecord) => K, word: (r: RawRecord) => string): Phrase {
  let cache = new Map<K, string>();
  return {
    code,
    text(r) {
      const k = key(r);
      let s = cache.get(k);
      if (s === undefined) {
        s = word(r);
        if (cache.size >= 4096) cache = new Map();
        cache.set(k, s);
      }
      return s;
    },
  };
}

/** A phrase with a count in it (bytes, probes): worded per printed event. */
function counted(code: number, word: (r: RawRecord) => string): Phrase {
  return { code, text: word };
}

const stateText = (state: number): string => tcpStateName(state) ?? String(state);
const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

function flagsText(f: number): string {
  const names: string[] = [];
  if (f & TCP_FLAG.SYN) names.push('SYN');
  if (f & TCP_FLAG.ACK) names.push('ACK');
  if (f & TCP_FLAG.FIN) names.push('FIN');
  if (f & TCP_FLAG.RST) names.push('RST');
  if (f & TCP_FLAG.PSH) names.push('PSH');
  return names.length ? names.join('|') : 'no flags';
}

const P = {
  SYN_NO_LISTENER: fixed(11, 'SYN to a port with no listener'),
  STRAY: keyed(1, (r) => r.tcpFlags, (r) => `segment for a connection that does not exist (${flagsText(r.tcpFlags)})`),
  REFUSED: fixed(0, 'connection refused by the peer'),
  PEER_RESET: keyed(0, (r) => r.state, (r) => `reset by the peer in ${stateText(r.state)}`),
  LINGER0: fixed(6, 'close() with SO_LINGER {1,0}'),
  AF_UNSPEC: fixed(6, 'connect(AF_UNSPEC) dropped the connection'),
  LISTENER_CLOSED: fixed(6, 'listener closed with this connection still in its accept queue'),
  APP_ABORT: fixed(6, 'the application aborted the connection'),
  BPF_DESTROY: keyed(8, (r) => r.ctxComm, (r) => `destroyed by a BPF program (bpf_sock_destroy) run by ${r.ctxComm || 'the kernel'}`),
  SOCK_DESTROY: keyed(13, (r) => r.ctxComm, (r) => `killed by ${r.ctxComm || 'an administrator'} (SOCK_DESTROY)`),
  INVALID_ACK: fixed(2, 'ACK for data never sent'),
  PAWS: fixed(2, 'segment failed the PAWS timestamp check'),
  TOO_OLD_ACK: fixed(2, 'ACK older than the window'),
  ACK_UNSENT: fixed(2, 'ACK for unsent data'),
  OLD_ACK: fixed(2, 'old ACK in SYN_RECV'),
  BAD_FLAGS: keyed(10, (r) => r.tcpFlags, (r) => `invalid flags ${flagsText(r.tcpFlags)} for the state`),
  DATA_AFTER_CLOSE: fixed(1, 'data arrived after the application closed'),
  TIME_WAIT: fixed(1, 'segment hit a closed connection (TIME_WAIT)'),
  ACCEPTQ_FULL: fixed(14, 'accept queue full (tcp_abort_on_overflow)'),
  INVALID_SYN: fixed(3, 'SYN in an invalid state'),
  UNREAD: counted(16, (r) => `closed with ${plural(r.unread, 'unread byte')}`),
  LINGER2: fixed(6, 'FIN_WAIT2 aborted (TCP_LINGER2 < 0)'),
  MEMORY: fixed(14, 'aborted for lack of memory or too many orphans'),
  FROM_STATE: keyed(10, (r) => r.state, (r) => `reset from state ${stateText(r.state)}`),
  KEEPALIVE: keyed(17, (r) => r.probes, (r) => `keepalive: ${plural(r.probes, 'probe')} unanswered`),
  DISCONNECT_DATA: fixed(6, 'disconnect with data unsent'),
  SYN_TIMEOUT: fixed(15, 'no answer to SYN: connect() timed out'),
  USER_TIMEOUT: fixed(18, 'unacknowledged data outlived TCP_USER_TIMEOUT'),
  RETRIES: fixed(18, 'retransmissions exhausted (tcp_retries2)'),
  ICMP: keyed(9, (r) => r.state * 256 + r.skErr, (r) => `ICMP unreachable in ${stateText(r.state)}: ${errnoName(r.skErr)}`),
  ABORTED: keyed(10, (r) => r.state * 256 + r.skErr, (r) => `aborted in ${stateText(r.state)} with ${errnoName(r.skErr)}`),
  // nf_send_reset answers a segment without ACK (a SYN, in practice) with RST|ACK, one with ACK with a bare RST
  FIREWALL: keyed(4, (r) => (r.tcpFlags & TCP_FLAG.ACK) * 65536 + r.lport,
    (r) => `rejected by a firewall rule: ${r.tcpFlags & TCP_FLAG.ACK ? 'SYN' : 'segment of a connection (ACK set)'} to :${r.lport}`),
  REFUSED_BY_FIREWALL: fixed(0, 'connection refused by a firewall rule on this host, not by an application'),
  RESET_BY_FIREWALL: keyed(0, (r) => r.state, (r) => `reset by a firewall rule on this host in ${stateText(r.state)}, not by the peer's application`),
} as const;

/** Why the kernel refused a RST, by skb_drop_reason name (reset-codes.md, code 19). */
const IGNORED_WHY: Readonly<Record<string, string>> = {
  TCP_INVALID_SEQUENCE: 'sequence number beyond the receive window',
  TCP_OLD_SEQUENCE: 'sequence number before the receive window',
  TCP_INVALID_END_SEQUENCE: 'sequence number beyond the receive window',
  TCP_RESET: 'in the window but not exact: challenge ACK sent (RFC 5961)',
  TCP_INVALID_ACK_SEQUENCE: 'its ACK does not match what was sent',
  TCP_RFC7323_PAWS: 'failed the PAWS timestamp check',
  TCP_RFC7323_TW_PAWS: 'failed the PAWS timestamp check',
  NOT_SPECIFIED: 'not the sequence number expected',
};

const ignoredPhrases = new Map<string, Phrase>();
/** Code 19, one phrase per drop reason, worded per state. */
function ignored(reason: string | null): Phrase {
  const name = reason ?? 'NOT_SPECIFIED';
  let p = ignoredPhrases.get(name);
  if (!p) {
    const why = IGNORED_WHY[name] ?? `drop reason ${name}`;
    // a listener has no connection for the RST to reset, whatever the drop reason says
    p = keyed(19, (r) => r.state, (r) => (r.state === TCP_STATE.LISTEN ? 'RST ignored by a listener: no connection for its tuple' : `RST ignored in ${stateText(r.state)}: ${why}`));
    if (ignoredPhrases.size >= 1024) ignoredPhrases.clear();
    ignoredPhrases.set(name, p);
  }
  return p;
}

/** A kernel reason with no row (newer kernels, MPTCP): one phrase per name. */
const otherReasons = new Map<string, Phrase>();
function otherReason(reason: string): Phrase {
  let p = otherReasons.get(reason);
  if (!p) {
    p = fixed(10, `kernel reason ${reason}`);
    if (otherReasons.size >= 1024) otherReasons.clear();
    otherReasons.set(reason, p);
  }
  return p;
}

const noSocket = (r: RawRecord): Phrase =>
  r.tcpFlags & TCP_FLAG.SYN && !(r.tcpFlags & TCP_FLAG.ACK) ? P.SYN_NO_LISTENER : P.STRAY;

const disconnect = (r: RawRecord, actor: Actor): Phrase => {
  if (has(r, FLAG.LINGER0)) return P.LINGER0;
  if (has(r, FLAG.IN_SYSCALL) && r.syscall === SYSCALL.connect) return P.AF_UNSPEC;
  if (actor === ACTOR.LISTENER_CLOSE) return P.LISTENER_CLOSED;
  return P.APP_ABORT;
};

/** The killer read a BPF iterator (bpf_sock_destroy) rather than asking sock_diag. */
function killedByBpfIterator(r: RawRecord): boolean {
  if (!(r.flags & FLAG.IN_SYSCALL)) return false;
  return r.syscall === SYSCALL.read || r.syscall === SYSCALL.pread64 || r.syscall === SYSCALL.readv;
}

const foreignAbort = (r: RawRecord): Phrase => (killedByBpfIterator(r) ? P.BPF_DESTROY : P.SOCK_DESTROY);

/** Rows by the kernel's `sk_rst_reason` name. */
const BY_REASON: Record<string, Rule> = {
  NO_SOCKET: noSocket,
  TCP_INVALID_ACK_SEQUENCE: () => P.INVALID_ACK,
  TCP_RFC7323_PAWS: () => P.PAWS,
  TCP_TOO_OLD_ACK: () => P.TOO_OLD_ACK,
  TCP_ACK_UNSENT_DATA: () => P.ACK_UNSENT,
  TCP_OLD_ACK: () => P.OLD_ACK,
  TCP_FLAGS: () => P.BAD_FLAGS,
  TCP_ABORT_ON_DATA: () => P.DATA_AFTER_CLOSE,
  TCP_TIMEWAIT_SOCKET: () => P.TIME_WAIT,
  INVALID_SYN: (r) => (r.state === TCP_STATE.LISTEN && has(r, FLAG.ACCEPTQ_FULL) ? P.ACCEPTQ_FULL : P.INVALID_SYN),
  TCP_ABORT_ON_CLOSE: () => P.UNREAD,
  TCP_ABORT_ON_LINGER: () => P.LINGER2,
  TCP_ABORT_ON_MEMORY: () => P.MEMORY,
  TCP_STATE: (r, actor) => {
    if (r.state === TCP_STATE.CLOSE) return disconnect(r, actor);
    if (actor === ACTOR.FOREIGN) return foreignAbort(r);
    return P.FROM_STATE;
  },
  TCP_KEEPALIVE_TIMEOUT: () => P.KEEPALIVE,
  TCP_DISCONNECT_WITH_DATA: () => P.DISCONNECT_DATA,
};

/** Sent resets when the kernel gives no reason: the same facts, without the label. */
function sentWithoutReason(r: RawRecord, actor: Actor): Phrase {
  if (!has(r, FLAG.HAS_SK)) return noSocket(r);
  if (r.state === TCP_STATE.TIME_WAIT) return P.TIME_WAIT;
  if (r.state === TCP_STATE.LISTEN) return BY_REASON.INVALID_SYN(r, actor);
  if (actor === ACTOR.FOREIGN) return foreignAbort(r);
  if (r.state === TCP_STATE.CLOSE) {
    // __tcp_close() checks unread data before linger; AF_UNSPEC never looks at it.
    const inConnect = has(r, FLAG.IN_SYSCALL) && r.syscall === SYSCALL.connect;
    if (!inConnect && has(r, FLAG.IN_TASK) && has(r, FLAG.FULLSOCK) && r.unread > 0) return P.UNREAD;
    if (has(r, FLAG.DEAD) && has(r, FLAG.RCV_SHUTDOWN) && !has(r, FLAG.IN_TASK)) return P.DATA_AFTER_CLOSE;
    return disconnect(r, actor);
  }
  if (has(r, FLAG.KEEPALIVE) && r.probes > 0 && !has(r, FLAG.IN_TASK)) return P.KEEPALIVE;
  return P.FROM_STATE;
}

const ICMP_ERRORS: ReadonlySet<number> = new Set([
  ERRNO.EHOSTUNREACH, ERRNO.ENETUNREACH, ERRNO.ECONNREFUSED, ERRNO.EACCES, ERRNO.EHOSTDOWN,
  ERRNO.ENONET, ERRNO.EPROTO,
]);

function abort(r: RawRecord, actor: Actor): Phrase {
  if (actor === ACTOR.FOREIGN) return foreignAbort(r);
  if (r.skErr === ERRNO.ETIMEDOUT) {
    if (r.state === TCP_STATE.SYN_SENT || r.state === TCP_STATE.SYN_RECV) return P.SYN_TIMEOUT;
    return has(r, FLAG.USER_TIMEOUT) ? P.USER_TIMEOUT : P.RETRIES;
  }
  return ICMP_ERRORS.has(r.skErr) ? P.ICMP : P.ABORTED;
}

function phraseOf(r: RawRecord, reason: string | null, actor: Actor, byHostFirewall: boolean): Phrase {
  if (r.kind === KIND.RECEIVED) {
    if (byHostFirewall) return r.state === TCP_STATE.SYN_SENT ? P.REFUSED_BY_FIREWALL : P.RESET_BY_FIREWALL;
    return r.state === TCP_STATE.SYN_SENT ? P.REFUSED : P.PEER_RESET;
  }
  if (r.kind === KIND.IGNORED) return ignored(reason);
  if (r.hook === HOOK.NET_DEV_QUEUE) return P.FIREWALL;
  if (r.kind === KIND.ABORT) return abort(r, actor);
  if (reason === null) return sentWithoutReason(r, actor);
  const rule = BY_REASON[reason];
  return rule ? rule(r, actor) : otherReason(reason);
}

/**
 * Classifies `r` into `out` (reused by the caller): no allocation per record.
 * `byHostFirewall`: a received RST that this host's firewall made (signals.ts).
 */
export function classifyInto(out: Verdict, r: RawRecord, reason: string | null, byHostFirewall = false): Verdict {
  const actor = actorOf(r, reason);
  out.actor = actor;
  out.phrase = phraseOf(r, reason, actor, byHostFirewall);
  return out;
}

export function emptyVerdict(): Verdict {
  return { phrase: P.APP_ABORT, actor: ACTOR.OWN };
}

/** The code and its explanation in words. */
export function classify(r: RawRecord, reason: string | null, byHostFirewall = false): Classification {
  const v = classifyInto(emptyVerdict(), r, reason, byHostFirewall);
  return { code: v.phrase.code, explanation: v.phrase.text(r) };
}
