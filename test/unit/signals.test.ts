import { describe, expect, it } from 'vitest';
import { FLAG, HOOK, KIND, TCP_FLAG } from '../../src/decode.js';
import { TCP_STATE as S } from '../../src/kernel/names.js';
import { ResetSignals, outOfWindow } from '../../src/signals.js';
import { raw, SOCK } from '../helpers/raw.js';

const SEQ = SOCK | FLAG.HAS_SK | FLAG.SEQ;
const at = (ms: number) => ({ bootSec: 100 + Math.floor(ms / 1000), bootNsec: (ms % 1000) * 1e6 });
const ignored = (ms: number, seq: number) =>
  raw({ ...at(ms), kind: KIND.IGNORED, hook: HOOK.KFREE_SKB, state: S.ESTABLISHED, flags: SEQ | FLAG.DROP_REASON, seq, rcvNxt: 1000, rcvWnd: 500 });
const accepted = (ms: number, seq: number) =>
  raw({ ...at(ms), kind: KIND.RECEIVED, hook: HOOK.RECEIVE_RESET, state: S.ESTABLISHED, flags: SEQ, seq, rcvNxt: seq, rcvWnd: 500 });
/** this host's NO_SOCKET answer on the same tuple (raw()'s defaults) to a segment with `flags` */
const answered = (ms: number, tcpFlags: number) => raw({ ...at(ms), kind: KIND.SENT, cookie: '', flags: FLAG.HAS_REASON, tcpFlags });

describe('forgery signals', () => {
  it('out-of-window: seq outside [rcv_nxt, rcv_nxt + rcv_wnd], across the 2^32 wrap', () => {
    expect(outOfWindow(ignored(0, 999))).toBe(true);
    expect(outOfWindow(ignored(0, 1000))).toBe(false);
    expect(outOfWindow(ignored(0, 1500))).toBe(false);
    expect(outOfWindow(ignored(0, 1501))).toBe(true);
    expect(outOfWindow(raw({ flags: SEQ, seq: 5, rcvNxt: 0xfffffff0, rcvWnd: 100 }))).toBe(false);
    expect(new ResetSignals().observe(ignored(0, 5_000_000))).toEqual(['out-of-window']);
    expect(new ResetSignals().observe(ignored(0, 1200))).toBeNull();
    expect(outOfWindow({ ...ignored(0, 5_000_000), state: S.LISTEN, rcvNxt: 0, rcvWnd: 0 })).toBe(false);
  });

  it('reset-seq-change: a second RST on the connection with another seq within 2 s, on the later event', () => {
    const s = new ResetSignals();
    expect(s.observe(ignored(0, 1200))).toBeNull();
    expect(s.observe(ignored(100, 1200))).toBeNull();
    expect(s.observe(accepted(200, 1000))).toEqual(['reset-seq-change']);
    const late = new ResetSignals();
    late.observe(ignored(0, 1200));
    expect(late.observe(accepted(2500, 1000))).toBeNull();
  });

  it('data-after-reset: a NO_SOCKET answer to a non-SYN segment on a tuple an accepted RST ended within 2 s', () => {
    const s = new ResetSignals();
    expect(s.observe(answered(0, TCP_FLAG.ACK))).toBeNull();
    s.observe(accepted(1000, 1000));
    expect(s.observe(answered(1100, TCP_FLAG.SYN))).toBeNull();
    expect(s.observe(answered(1200, TCP_FLAG.ACK | TCP_FLAG.PSH))).toEqual(['data-after-reset']);
    expect(s.observe(answered(3300, TCP_FLAG.ACK))).toBeNull();
    expect(s.observe(raw({ ...at(1300), kind: KIND.SENT, cookie: '', lport: 9, tcpFlags: TCP_FLAG.ACK }))).toBeNull();
  });

  it('a refused connect (received in SYN_SENT) is part of no signal', () => {
    const s = new ResetSignals();
    expect(s.observe(raw({ kind: KIND.RECEIVED, state: S.SYN_SENT, flags: SEQ, seq: 1 }))).toBeNull();
    expect(s.observe(answered(0, TCP_FLAG.ACK))).toBeNull();
  });

  it('a received RST for the reversed tuple of a firewall RST just before was made by this host', () => {
    const s = new ResetSignals();
    const fw = raw({ kind: KIND.SENT, hook: HOOK.NET_DEV_QUEUE, cookie: '', flags: FLAG.SEQ, laddr: '10.0.0.2', lport: 8080, raddr: '10.0.0.1', rport: 40000 });
    const rcv = raw({ kind: KIND.RECEIVED, state: S.SYN_SENT, flags: SOCK, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080 });
    expect(s.madeByFirewall(rcv)).toBe(false);
    expect(s.observe(fw)).toBeNull();
    expect(s.madeByFirewall(rcv)).toBe(true);
    expect(s.madeByFirewall({ ...rcv, rport: 8081 })).toBe(false);
    expect(s.madeByFirewall({ ...rcv, ...at(2500) })).toBe(false);
  });
});
