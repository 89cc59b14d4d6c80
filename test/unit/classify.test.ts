import { describe, expect, it } from 'vitest';
import { classify } from '../../src/classify.js';
import { FLAG, HOOK, KIND, TCP_FLAG } from '../../src/decode.js';
import { ERRNO, SYSCALL, TCP_STATE } from '../../src/kernel/names.js';
import { RESET_CODES } from '../../src/codes.js';
import { raw, SOCK } from '../helpers/raw.js';

const S = TCP_STATE;
const closedFrom = (prev: number) => ({ state: S.CLOSE, prevState: prev, flags: SOCK | FLAG.PREV_STATE | FLAG.IN_TASK | FLAG.IN_SYSCALL | FLAG.OWNER_KNOWN });

describe('classify with the kernel reason', () => {
  const cases: [string, Parameters<typeof raw>[0], string, number][] = [
    ['received RST in SYN_SENT', { kind: KIND.RECEIVED, state: S.SYN_SENT, flags: SOCK }, '', 0],
    ['received RST in ESTABLISHED', { kind: KIND.RECEIVED, state: S.ESTABLISHED, flags: SOCK }, '', 0],
    ['SYN to a closed port', { tcpFlags: TCP_FLAG.SYN }, 'NO_SOCKET', 11],
    ['ACK to a closed port', { tcpFlags: TCP_FLAG.ACK }, 'NO_SOCKET', 1],
    ['SYN|ACK with no socket', { tcpFlags: TCP_FLAG.SYN | TCP_FLAG.ACK }, 'NO_SOCKET', 1],
    ['TIME_WAIT stand-in', { state: S.TIME_WAIT, flags: FLAG.HAS_SK }, 'TCP_TIMEWAIT_SOCKET', 1],
    ['data after close', { state: S.CLOSE, flags: SOCK | FLAG.DEAD }, 'TCP_ABORT_ON_DATA', 1],
    ['bad ACK', { state: S.SYN_RECV, flags: SOCK }, 'TCP_INVALID_ACK_SEQUENCE', 2],
    ['PAWS', { state: S.ESTABLISHED, flags: SOCK }, 'TCP_RFC7323_PAWS', 2],
    ['old ACK', {}, 'TCP_OLD_ACK', 2],
    ['too old ACK', {}, 'TCP_TOO_OLD_ACK', 2],
    ['ACK of unsent data', {}, 'TCP_ACK_UNSENT_DATA', 2],
    ['invalid SYN', { state: S.ESTABLISHED, flags: SOCK }, 'INVALID_SYN', 3],
    ['accept queue overflow', { state: S.LISTEN, flags: SOCK | FLAG.ACCEPTQ_FULL }, 'INVALID_SYN', 14],
    ['linger-0 close', { ...closedFrom(S.ESTABLISHED), flags: closedFrom(1).flags | FLAG.LINGER0, syscall: SYSCALL.close }, 'TCP_STATE', 6],
    ['connect(AF_UNSPEC)', { ...closedFrom(S.ESTABLISHED), syscall: SYSCALL.connect }, 'TCP_STATE', 6],
    ['listener close child', { state: S.CLOSE, prevState: S.ESTABLISHED, flags: SOCK | FLAG.PREV_STATE, ctxPid: 9 }, 'TCP_STATE', 6],
    ['FIN_WAIT2 linger2 < 0', { state: S.CLOSE, flags: SOCK }, 'TCP_ABORT_ON_LINGER', 6],
    ['disconnect with data', { state: S.CLOSE, flags: SOCK }, 'TCP_DISCONNECT_WITH_DATA', 6],
    ['ss -K', { state: S.ESTABLISHED, flags: SOCK | FLAG.IN_TASK | FLAG.IN_SYSCALL, syscall: SYSCALL.sendmsg, ctxComm: 'ss' }, 'TCP_STATE', 13],
    ['bpf_sock_destroy from an iterator', { state: S.ESTABLISHED, flags: SOCK | FLAG.IN_SYSCALL, syscall: SYSCALL.read, ctxComm: 'cat' }, 'TCP_STATE', 8],
    ['invalid flags', { state: S.ESTABLISHED, flags: SOCK }, 'TCP_FLAGS', 10],
    ['unspecified', { state: S.ESTABLISHED, flags: SOCK }, 'NOT_SPECIFIED', 10],
    ['error', { state: S.ESTABLISHED, flags: SOCK }, 'ERROR', 10],
    ['MPTCP reason', { state: S.ESTABLISHED, flags: SOCK }, 'MPTCP_RST_EMPTCP', 10],
    ['memory', { state: S.FIN_WAIT1, flags: SOCK | FLAG.DEAD }, 'TCP_ABORT_ON_MEMORY', 14],
    ['close with unread data', { ...closedFrom(S.ESTABLISHED), unread: 100 }, 'TCP_ABORT_ON_CLOSE', 16],
    ['keepalive exhausted', { state: S.ESTABLISHED, flags: SOCK | FLAG.KEEPALIVE, probes: 2 }, 'TCP_KEEPALIVE_TIMEOUT', 17],
  ];
  for (const [name, over, reason, code] of cases) {
    it(`${name} -> ${code}`, () => {
      expect(classify(raw(over), reason || null).code).toBe(code);
    });
  }

  it('says how many bytes were unread and how many probes went unanswered', () => {
    expect(classify(raw({ ...closedFrom(S.ESTABLISHED), unread: 100 }), 'TCP_ABORT_ON_CLOSE').explanation).toBe('closed with 100 unread bytes');
    expect(classify(raw({ state: S.ESTABLISHED, flags: SOCK, probes: 2 }), 'TCP_KEEPALIVE_TIMEOUT').explanation).toBe('keepalive: 2 probes unanswered');
  });
});

describe('classify aborts with no RST on the wire', () => {
  const abort = (state: number, skErr: number, extra = 0) => raw({ kind: KIND.ABORT, state, skErr, flags: SOCK | extra });
  it('SYN timeout is 15', () => expect(classify(abort(S.SYN_SENT, ERRNO.ETIMEDOUT), null).code).toBe(15));
  it('ICMP host unreachable in SYN_SENT is 9', () => expect(classify(abort(S.SYN_SENT, ERRNO.EHOSTUNREACH), null).code).toBe(9));
  it('ICMP net unreachable is 9', () => expect(classify(abort(S.SYN_SENT, ERRNO.ENETUNREACH), null).code).toBe(9));
  it('ICMP port unreachable (ECONNREFUSED, no RST) is 9', () => expect(classify(abort(S.SYN_SENT, ERRNO.ECONNREFUSED), null).code).toBe(9));
  it('retransmit timeout on an established connection is 18', () => expect(classify(abort(S.ESTABLISHED, ERRNO.ETIMEDOUT, FLAG.USER_TIMEOUT), null).code).toBe(18));
  it('ss -K of a connecting socket is 13', () => expect(classify(abort(S.SYN_SENT, ERRNO.ECONNABORTED), null).code).toBe(13));
  it('anything else is 10', () => expect(classify(abort(S.ESTABLISHED, 5), null).code).toBe(10));
});

describe('classify without a kernel reason (before Linux 6.10)', () => {
  it('still tells a SYN to a closed port (11) from another stray segment (1)', () => {
    expect(classify(raw({ tcpFlags: TCP_FLAG.SYN }), null).code).toBe(11);
    expect(classify(raw({ tcpFlags: TCP_FLAG.ACK | TCP_FLAG.PSH }), null).code).toBe(1);
  });
  it('infers close with unread data (16), linger-0 (6), AF_UNSPEC (6) from state, flags and syscall', () => {
    expect(classify(raw({ ...closedFrom(S.ESTABLISHED), unread: 10, syscall: SYSCALL.close }), null).code).toBe(16);
    expect(classify(raw({ ...closedFrom(S.ESTABLISHED), flags: closedFrom(1).flags | FLAG.LINGER0 }), null).code).toBe(6);
    expect(classify(raw({ ...closedFrom(S.ESTABLISHED), unread: 10, syscall: SYSCALL.connect }), null).code).toBe(6);
  });
  it('infers TIME_WAIT (1), ss -K (13), keepalive (17), accept overflow (14)', () => {
    expect(classify(raw({ state: S.TIME_WAIT, flags: FLAG.HAS_SK }), null).code).toBe(1);
    expect(classify(raw({ state: S.ESTABLISHED, flags: SOCK | FLAG.IN_TASK | FLAG.IN_SYSCALL, syscall: SYSCALL.sendmsg }), null).code).toBe(13);
    expect(classify(raw({ state: S.ESTABLISHED, flags: SOCK | FLAG.KEEPALIVE, probes: 3 }), null).code).toBe(17);
    expect(classify(raw({ state: S.LISTEN, flags: SOCK | FLAG.ACCEPTQ_FULL }), null).code).toBe(14);
  });
});

describe('firewall and ignored RSTs', () => {
  const fw = (tcpFlags: number) => raw({ kind: KIND.SENT, hook: HOOK.NET_DEV_QUEUE, cookie: '', lport: 8080, tcpFlags: TCP_FLAG.RST | tcpFlags });
  it('a RST no socket sent is code 4, the rejected segment told from the RST\'s ACK flag', () => {
    expect(classify(fw(TCP_FLAG.ACK), null)).toEqual({ code: 4, explanation: 'rejected by a firewall rule: SYN to :8080' });
    expect(classify(fw(0), null)).toEqual({ code: 4, explanation: 'rejected by a firewall rule: segment of a connection (ACK set) to :8080' });
  });
  it('a received RST this host\'s firewall made says so', () => {
    const r = raw({ kind: KIND.RECEIVED, state: S.SYN_SENT, flags: SOCK });
    expect(classify(r, null, true)).toEqual({ code: 0, explanation: 'connection refused by a firewall rule on this host, not by an application' });
    expect(classify({ ...r, state: S.ESTABLISHED }, null, true).explanation).toBe('reset by a firewall rule on this host in ESTABLISHED, not by the peer\'s application');
  });
  it('an ignored RST is code 19, worded by its drop reason and state', () => {
    const r = raw({ kind: KIND.IGNORED, hook: HOOK.KFREE_SKB, state: S.ESTABLISHED, flags: SOCK | FLAG.DROP_REASON });
    expect(classify(r, 'TCP_INVALID_SEQUENCE')).toEqual({ code: 19, explanation: 'RST ignored in ESTABLISHED: sequence number beyond the receive window' });
    expect(classify({ ...r, state: S.SYN_SENT }, 'TCP_INVALID_ACK_SEQUENCE').explanation).toBe('RST ignored in SYN_SENT: its ACK does not match what was sent');
    expect(classify(r, 'SOME_NEW_REASON')).toEqual({ code: 19, explanation: 'RST ignored in ESTABLISHED: drop reason SOME_NEW_REASON' });
    expect(classify({ ...r, state: S.LISTEN }, 'TCP_RESET').explanation).toBe('RST ignored by a listener: no connection for its tuple');
  });
});

describe('the code table', () => {
  it('lists codes 0 to 19 once each, with unique keys', () => {
    expect(RESET_CODES.map((c) => c.code)).toEqual([...Array(20).keys()]);
    expect(new Set(RESET_CODES.map((c) => c.key)).size).toBe(20);
  });
  it('marks the codes with no Linux analogue as never emitted', () => {
    for (const n of [5, 7, 12]) expect(RESET_CODES[n].kinds).toEqual([]);
  });
  it('has code 4 for firewall RSTs (sent) and 19 for ignored RSTs', () => {
    expect(RESET_CODES[4]).toMatchObject({ key: 'firewall-reject', kinds: ['sent'] });
    expect(RESET_CODES[19]).toMatchObject({ key: 'reset-ignored', kinds: ['ignored'] });
  });
});
