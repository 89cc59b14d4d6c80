/**
 * Forgery signals on resets, from what one host can see (after Weaver,
 * Sommer and Paxson, "Detecting Forged TCP Reset Packets", NDSS 2009):
 *
 * - `out-of-window`: an ignored RST whose sequence number lay outside the
 *   receive window (a stale or blind reset: no stack in sync sends one);
 * - `reset-seq-change`: a RST for a connection that had another RST with a
 *   different sequence number within SIGNAL_WINDOW_MS (an injector guessing;
 *   the peer's own stack repeats one number). Both earlier seqs count: the
 *   one an accepted RST had (rcv_nxt) and those of ignored ones;
 * - `data-after-reset`: this host answered a non-SYN segment with a
 *   NO_SOCKET RST on a tuple whose connection an accepted RST ended within
 *   SIGNAL_WINDOW_MS: the peer kept sending, so its stack never sent that RST.
 *
 * A signal goes on the event that reveals it, which may come after the event
 * it is about: `reset-seq-change` on the later of the RSTs, `data-after-reset`
 * on the `sent` RST that answered the peer's data (the `received` event was
 * printed before the evidence existed). Tables are bounded in entries and
 * age; records that cannot be part of a signal (a refused connect, a SYN
 * answered) touch none of them, so a reset storm pays a few compares.
 *
 * The same tables say when a RST this host received was made by this host's
 * own firewall (a code 4 record for the reversed tuple just before).
 */
import { FLAG, HOOK, KIND, TCP_FLAG, type RawRecord } from './decode.js';
import { TCP_STATE } from './kernel/names.js';

export type Signal = 'out-of-window' | 'reset-seq-change' | 'data-after-reset';

/** How long a RST stays evidence for the signals that compare RSTs and segments. */
export const SIGNAL_WINDOW_MS = 2000;
/** Entries per table: beyond it the oldest go first. */
const TABLE_ENTRIES = 4096;

const OUT_OF_WINDOW: readonly Signal[] = ['out-of-window'];

interface Seen {
  ms: number;
  seqs: number[];
}

const timeMs = (r: RawRecord): number => r.bootSec * 1000 + r.bootNsec / 1e6;

/** this host's end first, as records put it */
const tupleKey = (r: RawRecord): string => `${r.netns} ${r.laddr} ${r.lport} ${r.raddr} ${r.rport}`;

/** Outside [rcv_nxt, rcv_nxt + rcv_wnd] in 32-bit sequence space (a listener has no window). */
export function outOfWindow(r: RawRecord): boolean {
  return (r.flags & FLAG.SEQ) !== 0 && r.state !== TCP_STATE.LISTEN && ((r.seq - r.rcvNxt) >>> 0) > r.rcvWnd;
}

export function isFirewallRecord(r: RawRecord): boolean {
  return r.kind === KIND.SENT && r.hook === HOOK.NET_DEV_QUEUE;
}

/** Insert with bounds: refreshes the key's age, evicts the oldest beyond the limit. */
function put<V>(m: Map<string, V>, key: string, v: V): void {
  m.delete(key);
  m.set(key, v);
  if (m.size > TABLE_ENTRIES) m.delete(m.keys().next().value as string);
}

/** The entry if younger than the window; an expired one is removed. */
function fresh<V extends { ms: number }>(m: Map<string, V>, key: string, now: number): V | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (now - v.ms > SIGNAL_WINDOW_MS || now < v.ms) {
    m.delete(key);
    return undefined;
  }
  return v;
}

export class ResetSignals {
  /** RSTs by connection (cookie): their seqs in the window */
  private readonly bySocket = new Map<string, Seen>();
  /** connections an accepted RST ended, by tuple */
  private readonly ended = new Map<string, { ms: number }>();
  /** firewall RSTs by the tuple as their receiver sees it */
  private readonly firewall = new Map<string, { ms: number }>();

  /** Whether `r`, a RST this host received, was made by a firewall rule on this host. */
  madeByFirewall(r: RawRecord): boolean {
    if (r.kind !== KIND.RECEIVED || this.firewall.size === 0) return false;
    return fresh(this.firewall, `${r.laddr} ${r.lport} ${r.raddr} ${r.rport}`, timeMs(r)) !== undefined;
  }

  /** Records in the order the kernel produced them: the signals of `r`, null when none. */
  observe(r: RawRecord): readonly Signal[] | null {
    if (r.kind === KIND.SENT) return this.sent(r);
    if (r.kind !== KIND.RECEIVED && r.kind !== KIND.IGNORED) return null;
    // A refused connect has no connection to forge a reset into.
    if (r.state === TCP_STATE.SYN_SENT && r.kind === KIND.RECEIVED) return null;
    const now = timeMs(r);
    const signals: Signal[] = [];
    if (r.kind === KIND.IGNORED && outOfWindow(r)) signals.push(...OUT_OF_WINDOW);
    if (r.flags & FLAG.SEQ && r.cookie) {
      const seen = fresh(this.bySocket, r.cookie, now);
      if (seen && seen.seqs.some((s) => s !== r.seq)) signals.push('reset-seq-change');
      const seqs = seen ? seen.seqs : [];
      if (!seqs.includes(r.seq) && seqs.length < 16) seqs.push(r.seq);
      put(this.bySocket, r.cookie, { ms: now, seqs });
    }
    if (r.kind === KIND.RECEIVED) put(this.ended, tupleKey(r), { ms: now });
    return signals.length ? signals : null;
  }

  private sent(r: RawRecord): readonly Signal[] | null {
    if (isFirewallRecord(r)) {
      put(this.firewall, `${r.raddr} ${r.rport} ${r.laddr} ${r.lport}`, { ms: timeMs(r) });
      return null;
    }
    // A NO_SOCKET answer to a non-SYN segment (its flags are in the record).
    if (this.ended.size === 0 || r.flags & FLAG.HAS_SK || r.tcpFlags & TCP_FLAG.SYN) return null;
    return fresh(this.ended, tupleKey(r), timeMs(r)) ? DATA_AFTER_RESET : null;
  }
}

const DATA_AFTER_RESET: readonly Signal[] = ['data-after-reset'];
