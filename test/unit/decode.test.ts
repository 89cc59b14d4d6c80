import { describe, expect, it } from 'vitest';
import { addon } from '../../src/kernel/addon.js';
import { AF_INET, AF_INET6, FLAG, HOOK, KIND, OFFSETS, RECORD_SIZE, decodeBatch, formatIpv6 } from '../../src/decode.js';

const layout = addon().layout();

/** Builds one record with the addon's own offsets (from offsetof() on bpf/rstrace.h). */
function record(fields: Partial<Record<keyof typeof OFFSETS, number | bigint | number[] | string>>): Uint8Array {
  const buf = new Uint8Array(layout.size);
  const dv = new DataView(buf.buffer);
  const off = layout.offsets;
  for (const [name, value] of Object.entries(fields)) {
    const o = off[name];
    if (Array.isArray(value)) buf.set(value, o);
    else if (typeof value === 'string') buf.set(new TextEncoder().encode(value), o);
    else if (typeof value === 'bigint') dv.setBigUint64(o, value, true);
    else if (['lport', 'rport', 'family', 'flags'].includes(name)) dv.setUint16(o, value, true);
    else if (['kind', 'state', 'prev_state', 'tcp_flags', 'sk_err', 'probes', 'hook', 'old_state'].includes(name)) dv.setUint8(o, value);
    else if (['ts_ns', 'cgroup_id', 'ino'].includes(name)) dv.setBigUint64(o, BigInt(value), true);
    else dv.setUint32(o, value, true);
  }
  return buf;
}

describe('decoder against the shared header', () => {
  it('uses exactly the offsets and size of struct rst_event', () => {
    expect(RECORD_SIZE).toBe(layout.size);
    expect({ ...OFFSETS }).toEqual(layout.offsets);
  });

  it('uses the header flag and kind values', () => {
    for (const [name, value] of Object.entries(FLAG)) expect(layout.flags[`RST_F_${name}`]).toBe(value);
    expect(layout.kinds.RST_KIND_SENT).toBe(KIND.SENT);
    expect(layout.kinds.RST_KIND_RECEIVED).toBe(KIND.RECEIVED);
    expect(layout.kinds.RST_KIND_ABORT).toBe(KIND.ABORT);
    expect(layout.reasonNone).toBe(0xffffffff);
    expect(Object.fromEntries(Object.entries(HOOK).map(([k, v]) => [`RST_HOOK_${k}`, v]))).toEqual(layout.hooks);
  });

  it('decodes an IPv4 record field by field', () => {
    const bytes = record({
      ts_ns: 5_123_456_789n, cookie: 0xfedcba9876543210n, cgroup_id: 4242, ino: 99, netns: 4026531840,
      laddr: [127, 0, 0, 1], raddr: [10, 1, 2, 3], lport: 8080, rport: 54321, family: AF_INET,
      kind: KIND.SENT, state: 7, prev_state: 1, tcp_flags: 0x12, sk_err: 104, probes: 2, reason: 11,
      owner_pid: 100, owner_tid: 101, ctx_pid: 200, ctx_tid: 201, unread: 5, unsent: 6,
      flags: FLAG.HAS_SK | FLAG.FULLSOCK, hook: 1, old_state: 1, syscall: 3,
      owner_comm: 'server', ctx_comm: 'client',
    });
    const [r] = decodeBatch(bytes, 1);
    expect(r).toEqual({
      bootSec: 5, bootNsec: 123_456_789, cookie: '18364758544493064720', cgroupId: 4242, ino: 99, family: AF_INET,
      laddr: '127.0.0.1', raddr: '10.1.2.3', lport: 8080, rport: 54321, netns: 4026531840, reason: 11,
      ownerPid: 100, ownerTid: 101, ownerComm: 'server', ctxPid: 200, ctxTid: 201, ctxComm: 'client',
      unread: 5, unsent: 6, kind: KIND.SENT, state: 7, prevState: 1, tcpFlags: 0x12, skErr: 104, probes: 2,
      flags: FLAG.HAS_SK | FLAG.FULLSOCK, hook: 1, oldState: 1, syscall: 3,
    });
  });

  it('gives small cookies and a missing cookie exactly', () => {
    expect(decodeBatch(record({ cookie: 4205514n, family: AF_INET }), 1)[0].cookie).toBe('4205514');
    expect(decodeBatch(record({ family: AF_INET }), 1)[0].cookie).toBe('');
  });

  it('splits a boot time beyond 2^53 ns exactly', () => {
    const ns = 200n * 86400n * 1_000_000_000n + 987_654_321n; // 200 days of uptime
    const [r] = decodeBatch(record({ ts_ns: ns, family: AF_INET }), 1);
    expect(BigInt(r.bootSec) * 1_000_000_000n + BigInt(r.bootNsec)).toBe(ns);
  });

  it('decodes IPv6 addresses in RFC 5952 form and a full 16-byte comm', () => {
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const bytes = record({ family: AF_INET6, laddr: [...Array(15).fill(0), 1], raddr: v6, owner_comm: 'abcdefghijklmnop' });
    const [r] = decodeBatch(bytes, 1);
    expect(r.laddr).toBe('::1');
    expect(r.raddr).toBe('2001:db8::1');
    expect(r.ownerComm).toBe('abcdefghijklmnop');
  });

  it('formats IPv6 edge cases', () => {
    expect(formatIpv6(new Uint8Array(16))).toBe('::');
    expect(formatIpv6(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]))).toBe('::ffff:127.0.0.1');
    expect(formatIpv6(new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2]))).toBe('fe80::1:0:0:2');
    expect(formatIpv6(new Uint8Array([0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]))).toBe('1:0:1:1:1:1:1:1');
  });

  it('decodes a batch of several records and ignores a partial tail', () => {
    const a = record({ family: AF_INET, lport: 1 });
    const b = record({ family: AF_INET, lport: 2 });
    const batch = new Uint8Array(layout.size * 2 + 10);
    batch.set(a, 0);
    batch.set(b, layout.size);
    expect(decodeBatch(batch, 3).map((r) => r.lport)).toEqual([1, 2]);
  });
});
