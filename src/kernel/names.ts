/**
 * Kernel names for numbers in records: TCP states (uapi, stable), errno
 * names, syscall numbers that classification needs, and the kernel's
 * `enum sk_rst_reason`, read from BTF at run time rather than copied.
 */
import { constants as osConstants } from 'node:os';
import { FLAG, KIND, type RawRecord } from '../decode.js';
import type { Kind } from '../event.js';
import { addon } from './addon.js';

/** The record's `enum rst_kind` as the JSON event's kind, both ways: the one mapping. */
export const KIND_NUMBER: Readonly<Record<Kind, number>> = {
  sent: KIND.SENT, received: KIND.RECEIVED, abort: KIND.ABORT, ignored: KIND.IGNORED,
};
const KIND_NAMES: readonly (Kind | undefined)[] = (() => {
  const names: (Kind | undefined)[] = [];
  for (const [name, n] of Object.entries(KIND_NUMBER) as [Kind, number][]) names[n] = name;
  return names;
})();

/** A kind the record layout does not know is shown as `sent`, as it always has been. */
export function kindName(kind: number): Kind {
  return KIND_NAMES[kind] ?? 'sent';
}

/** TCP states (include/net/tcp_states.h, stable uapi): the one table in TypeScript. */
export const TCP_STATE = {
  ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7,
  CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10, CLOSING: 11, NEW_SYN_RECV: 12,
} as const;

export type TcpStateName = keyof typeof TCP_STATE;

/** Indexed by state number: one array load per event on the live path. */
const TCP_STATE_NAMES: readonly (TcpStateName | undefined)[] = (() => {
  const names: (TcpStateName | undefined)[] = [];
  for (const [name, n] of Object.entries(TCP_STATE) as [TcpStateName, number][]) names[n] = name;
  return names;
})();

export function tcpStateName(state: number): TcpStateName | null {
  return TCP_STATE_NAMES[state] ?? null;
}

/** The errnos that classification tests by name. */
export const ERRNO = {
  EACCES: 13, ENETUNREACH: 101, ECONNABORTED: 103, ECONNRESET: 104, ETIMEDOUT: 110,
  ECONNREFUSED: 111, EHOSTDOWN: 112, EHOSTUNREACH: 113, EPROTO: 71, ENONET: 64,
} as const;

/**
 * errno -> name for messages: the table above, then Node's table of this
 * platform's errnos (which lacks some, e.g. EHOSTDOWN; the first name of
 * aliases such as EAGAIN/EWOULDBLOCK), plus the kernel-internal ENOTSUPP
 * (524) that BPF attach returns and no libc names.
 */
const ERRNO_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>([...Object.entries(ERRNO).map(([k, v]): [number, string] => [v, k]), [524, 'ENOTSUPP']]);
  for (const [name, n] of Object.entries(osConstants.errno)) if (!names.has(n)) names.set(n, name);
  return names;
})();

export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

/** x86_64 syscall numbers (the BPF side reads orig_ax on x86 only). */
export const SYSCALL = {
  read: 0, write: 1, close: 3, sendto: 44, sendmsg: 46, connect: 42, shutdown: 48,
  setsockopt: 54, exit: 60, exit_group: 231, sendmmsg: 307, pread64: 17, readv: 19,
} as const;

export type ReasonNames = ReadonlyMap<number, string>;

/**
 * The kernel's reason for a record by name: its sk_rst_reason, or for a RST
 * the kernel refused its skb_drop_reason; null where the record carries none.
 */
export function reasonName(reasons: ReasonNames, r: RawRecord, dropReasons?: ReasonNames): string | null {
  if (r.flags & FLAG.DROP_REASON) return (dropReasons ?? dropReasonNames()).get(r.reason) ?? `UNKNOWN_${r.reason}`;
  if (!(r.flags & FLAG.HAS_REASON)) return null;
  return reasons.get(r.reason) ?? `UNKNOWN_${r.reason}`;
}

/** An enum's values -> names without `prefix`, from the running kernel's BTF; empty where it lacks the enum. */
function btfEnumNames(name: string, prefix: string, max: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const [entry, value] of addon().btfEnum(name) ?? []) {
    if (entry.startsWith(prefix) && entry !== max) names.set(value, entry.slice(prefix.length));
  }
  return names;
}

let dropReasons: Map<number, string> | undefined;

/**
 * skb_drop_reason values -> names without the SKB_DROP_REASON_ prefix. The
 * numbers drift between kernels (reset-codes.md): always read, never copied.
 */
export function dropReasonNames(): ReasonNames {
  dropReasons ??= btfEnumNames('skb_drop_reason', 'SKB_DROP_REASON_', 'SKB_DROP_REASON_MAX');
  return dropReasons;
}

let reasons: Map<number, string> | undefined;

/** sk_rst_reason values -> names without the SK_RST_REASON_ prefix; empty before Linux 6.10. */
export function rstReasonNames(): ReasonNames {
  reasons ??= btfEnumNames('sk_rst_reason', 'SK_RST_REASON_', 'SK_RST_REASON_MAX');
  return reasons;
}
