/**
 * The reset diagnostic codes (shared/reset-codes.md): codes 0-17 of the classic
 * "TCP/IP connection reset report", plus rstrace's Linux-only additions from 18.
 * A code that Linux never produces stays listed so that reports show it at zero.
 */
import type { Kind } from './event.js';

export interface ResetCode {
  code: number;
  key: string;
  name: string;
  /** the Linux situations that produce it; empty when none does */
  linux: string;
  /** the kinds it is reported with; empty when it is never emitted */
  kinds: readonly Kind[];
}

export const RESET_CODES: readonly ResetCode[] = [
  { code: 0, key: 'remote-reset', name: 'Reset received from the remote system',
    linux: 'a RST received from the peer (tcp_receive_reset), whatever the state', kinds: ['received'] },
  { code: 1, key: 'unknown-socket-pair', name: 'Frame received for unknown socket pair',
    linux: 'a non-SYN segment with no socket (NO_SOCKET), data after close (TCP_ABORT_ON_DATA), a segment hitting a TIME_WAIT stand-in (TCP_TIMEWAIT_SOCKET)', kinds: ['sent'] },
  { code: 2, key: 'ack-invalid-state', name: 'TCP ACK received in invalid state',
    linux: 'TCP_INVALID_ACK_SEQUENCE, TCP_TOO_OLD_ACK, TCP_ACK_UNSENT_DATA, TCP_OLD_ACK, TCP_RFC7323_PAWS', kinds: ['sent'] },
  { code: 3, key: 'syn-invalid-state', name: 'TCP SYN received in invalid state',
    linux: 'INVALID_SYN (other than an accept queue overflow)', kinds: ['sent'] },
  { code: 4, key: 'firewall-reject', name: 'Security/precedence failure',
    linux: 'a firewall rule on this host answered a segment with a RST (nftables `reject with tcp reset`, iptables REJECT --reject-with tcp-reset; IPv4 and IPv6, input, forward and output hooks): built by nf_send_reset outside the TCP stack, seen at net_dev_queue; pid null', kinds: ['sent'] },
  { code: 5, key: 'update-subfile-failure', name: 'Update sub file failure',
    linux: '', kinds: [] },
  { code: 6, key: 'application-abort', name: 'Application abort',
    linux: 'close() with SO_LINGER {1,0}, connect(AF_UNSPEC), TCP_LINGER2 < 0 (TCP_ABORT_ON_LINGER), TCP_DISCONNECT_WITH_DATA, closing a listener with connections in its accept queue', kinds: ['sent'] },
  { code: 7, key: 'logical-io-failed', name: 'Logical I/O interface establishment failed',
    linux: '', kinds: [] },
  { code: 8, key: 'unexpected-destroy', name: 'Unexpected connection destroy',
    linux: 'a live connection torn down outside its close path: bpf_sock_destroy() from a BPF iterator, SOCK_DESTROY by a task that is not a sock_diag tool', kinds: ['sent', 'abort'] },
  { code: 9, key: 'icmp-unreachable', name: 'Reset due to ICMP destination unreachable',
    linux: 'a hard ICMP/ICMPv6 error aborts the connection (EHOSTUNREACH, ENETUNREACH, ECONNREFUSED without a RST), no RST on the wire', kinds: ['abort'] },
  { code: 10, key: 'invalid-state-transition', name: 'Reset due to an invalid state transition',
    linux: 'TCP_FLAGS, TCP_STATE outside codes 6, 8 and 13, NOT_SPECIFIED, ERROR', kinds: ['sent', 'abort'] },
  { code: 11, key: 'syn-unknown-port', name: 'SYN received for unknown port',
    linux: 'a SYN to a port with no listener (NO_SOCKET with SYN set)', kinds: ['sent'] },
  { code: 12, key: 'subfile-open-failed', name: 'Sub file open attempt failed',
    linux: '', kinds: [] },
  { code: 13, key: 'management-reset', name: 'Reset due to management request (SNMP)',
    linux: 'ss -K / SOCK_DESTROY (tcp_abort); the killer is reported as actorPid/actorComm', kinds: ['sent', 'abort'] },
  { code: 14, key: 'max-connections', name: 'Max connections exceeded',
    linux: 'accept queue overflow with net.ipv4.tcp_abort_on_overflow=1, TCP_ABORT_ON_MEMORY (orphans, memory)', kinds: ['sent'] },
  { code: 15, key: 'syn-timeout', name: 'No response received for SYN',
    linux: 'connect() gave up: SYN_SENT -> CLOSE with ETIMEDOUT, no RST on the wire', kinds: ['abort'] },
  { code: 16, key: 'closed-with-data', name: 'Application closed with data to read',
    linux: 'close() with unread data queued (TCP_ABORT_ON_CLOSE)', kinds: ['sent'] },
  { code: 17, key: 'keepalive-limit', name: 'Keep-alive packet limit exceeded',
    linux: 'keepalive probes unanswered (TCP_KEEPALIVE_TIMEOUT)', kinds: ['sent'] },
  { code: 18, key: 'retransmit-timeout', name: 'Retransmission timeout (rstrace addition)',
    linux: 'an established connection gave up on unacknowledged data (tcp_retries2, TCP_USER_TIMEOUT): ETIMEDOUT, no keepalive, no RST on the wire', kinds: ['abort'] },
  { code: 19, key: 'reset-ignored', name: 'Reset ignored by the kernel (rstrace addition)',
    linux: 'a RST arrived for a live connection and the kernel refused it (skb:kfree_skb with the socket): out of the receive window (TCP_INVALID_SEQUENCE, TCP_OLD_SEQUENCE), in it but not exact (TCP_RESET: RFC 5961 challenge ACK), a wrong ACK in SYN_SENT (TCP_INVALID_ACK_SEQUENCE); the connection lives on', kinds: ['ignored'] },
];

const byCode = new Map(RESET_CODES.map((c) => [c.code, c]));
const byKey = new Map(RESET_CODES.map((c) => [c.key, c]));

export function codeInfo(code: number): ResetCode | undefined {
  return byCode.get(code);
}

/** A code given as a number or a key ("16" or "closed-with-data"). */
export function parseCode(text: string): ResetCode | undefined {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  return Number.isNaN(n) ? byKey.get(text) : byCode.get(n);
}
