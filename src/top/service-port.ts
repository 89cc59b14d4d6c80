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
 * A refused SYN (code 11, sent) names the refusing port as lport, the
 * refused connect (received in SYN_SENT) as rport. Otherwise the side whose
 * port is outside the ephemeral range listens; when both or neither are (a
 * server bound to port 0 listens on an ephemeral port), the port seen in more
 * resets so far: a service port recurs across connections, a client's
 * ephemeral port does not. Ties go to the lower port.
 */
export class ServicePorts {
  /** resets each port took part in, by port number */
  private readonly seen = new Uint32Array(65536);

  constructor(private readonly ephemeral: readonly [number, number] = ephemeralRange()) {}

  of(e: ResetEvent): number {
    const l = e.lport;
    const r = e.rport;
    if (this.seen[l] < 0xffffffff) this.seen[l]++;
    if (this.seen[r] < 0xffffffff) this.seen[r]++;
    if (e.kind === 'sent' && e.code === 11) return l;
    if ((e.kind === 'received' || e.kind === 'ignored') && e.state === 'SYN_SENT') return r;
    const [lo, hi] = this.ephemeral;
    const lEph = l >= lo && l <= hi;
    const rEph = r >= lo && r <= hi;
    if (lEph !== rEph) return lEph ? r : l;
    if (this.seen[l] !== this.seen[r]) return this.seen[l] > this.seen[r] ? l : r;
    return Math.min(l, r);
  }
}
