/**
 * The service port of a reset: the listening side's port, which is what an
 * operator asks about ("resets on 443"), where the other side's ephemeral
 * port differs on every connection.
 */
import { readFileSync } from 'node:fs';
import type { ResetEvent } from '../event.js';

/** The kernel's ephemeral range (net.ipv4.ip_local_port_range); Linux's default when unreadable. */
export function ephemeralRange(path = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [lo, hi] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux, or /proc not mounted: the default below
  }
  return [32768, 60999];
}

/**
 * A SYN refused (code 11, sent) names the refusing port as lport; the
 * refused connect (received in SYN_SENT) as rport. Otherwise the side whose
 * port is outside the ephemeral range listens; when both or neither are, the
 * lower port.
 */
export function servicePort(e: ResetEvent, ephemeral: readonly [number, number]): number {
  if (e.kind === 'sent' && e.code === 11) return e.lport;
  if ((e.kind === 'received' || e.kind === 'ignored') && e.state === 'SYN_SENT') return e.rport;
  const lEph = e.lport >= ephemeral[0] && e.lport <= ephemeral[1];
  const rEph = e.rport >= ephemeral[0] && e.rport <= ephemeral[1];
  if (lEph !== rEph) return lEph ? e.rport : e.lport;
  return Math.min(e.lport, e.rport);
}
