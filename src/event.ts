/**
 * The domain types that flow from the decoder to the sinks. `ResetEvent` is
 * the JSON event contract of DESIGN.md: every field present, in this order,
 * `null` where a fact is unknown.
 */

export type Kind = 'sent' | 'received' | 'abort';
export type Family = 'ipv4' | 'ipv6';
export type Attribution = 'context' | 'owner' | 'proc' | 'none';

export interface ResetEvent {
  time: string;
  kind: Kind;
  code: number;
  codeKey: string;
  reason: string | null;
  family: Family;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  state: string | null;
  pid: number | null;
  tid: number | null;
  comm: string | null;
  attribution: Attribution;
  cgroupId: number | null;
  netns: number | null;
  unread: number | null;
  unsent: number | null;
  cookie: string | null;
  /* additions after the contract's fields */
  actorPid: number | null;
  actorComm: string | null;
  probes: number | null;
  explanation: string;
}

/** Field order of the JSON contract; sinks and tests rely on it. */
export const EVENT_FIELDS: readonly (keyof ResetEvent)[] = [
  'time', 'kind', 'code', 'codeKey', 'reason', 'family', 'laddr', 'lport', 'raddr', 'rport',
  'state', 'pid', 'tid', 'comm', 'attribution', 'cgroupId', 'netns', 'unread', 'unsent', 'cookie',
  'actorPid', 'actorComm', 'probes', 'explanation',
];

/** Counters of one trace, as the kernel and the pipeline saw them. */
export interface TraceCounters {
  /** records that reached user space */
  delivered: number;
  /** records the kernel could not write (ring buffer full) */
  lost: number;
  /** records dropped by a filter, in the kernel or in user space */
  filtered: number;
}
