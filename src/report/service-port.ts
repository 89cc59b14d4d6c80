/**
 * The service port of a reset: the listening side's port, which is what an
 * operator asks about ("resets on :443"), where a local-port view is flooded
 * by clients' ephemeral ports. A trace does not say which end listened, so
 * the port is inferred, in this order:
 *   1. a refused SYN (code 11) or a listener's or half-open server socket
 *      (LISTEN, SYN_RECV, NEW_SYN_RECV): lport;
 *   2. a connecting socket (SYN_SENT): rport;
 *   3. the end outside the ephemeral range when exactly one end is;
 *   4. otherwise lport for a sent RST (mostly a server's socket) and rport
 *      for the others (a received RST is mostly a client's).
 */
import type { ResetEvent } from '../event.js';

/** Linux's default ip_local_port_range starts at 32768; IANA's dynamic range ends at 65535. */
export const EPHEMERAL_FIRST = 32768;

/** One line for the report: the rule above, short. */
export const SERVICE_PORT_RULE =
  'the listening side\'s port: lport for a refused SYN or a server socket, rport for a connecting one; ' +
  `else the end below ${EPHEMERAL_FIRST} when only one is; else lport for sent resets, rport for the others`;

const SERVER_STATES: ReadonlySet<string> = new Set(['LISTEN', 'SYN_RECV', 'NEW_SYN_RECV']);

type PortFacts = Pick<ResetEvent, 'kind' | 'code' | 'state' | 'lport' | 'rport'>;

export function servicePort(e: PortFacts): number {
  if (e.code === 11 || (e.state !== null && SERVER_STATES.has(e.state))) return e.lport;
  if (e.state === 'SYN_SENT') return e.rport;
  const lEphemeral = e.lport >= EPHEMERAL_FIRST, rEphemeral = e.rport >= EPHEMERAL_FIRST;
  if (lEphemeral !== rEphemeral) return lEphemeral ? e.rport : e.lport;
  return e.kind === 'sent' ? e.lport : e.rport;
}
