import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/kernel/addon.js';
import * as generated from '../../src/kernel/layout.generated.js';
import {
  AF_INET, AF_INET6, DECODED_WIDTHS, FLAG, HOOK, KIND, OFFSETS, REASON_NONE, RECORD_SIZE, decodeBatch, formatIpv6,
} from '../../src/decode.js';
import { ENUMS, dumpBtf, generateLayout, parseLayout } from '../../scripts/btf-layout.js';

const OBJECT = fileURLToPath(new URL('../../build/rstrace.bpf.o', import.meta.url));
const HEADER = fileURLToPath(new URL('../../bpf/rstrace.h', import.meta.url));
const GENERATED = fileURLToPath(new URL('../../src/kernel/layout.generated.ts', import.meta.url));
const btf = parseLayout(dumpBtf(OBJECT));

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

describe('generated layout', () => {
  it('src/kernel/layout.generated.ts is exactly what the build generates from build/rstrace.bpf.o', () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(generateLayout(OBJECT));
  });

  it('every enum of bpf/rstrace.h reaches the BTF and the generated module', () => {
    const inHeader = [...readFileSync(HEADER, 'utf8').matchAll(/^enum (\w+) \{/gm)].map((m) => m[1]).sort();
    expect(inHeader).toEqual(Object.keys(ENUMS).sort());
    expect(Object.keys(btf.enums).sort()).toEqual(inHeader);
  });

  it('enum members both ways: every C member has a TS constant with its value, and every TS constant a C member', () => {
    const mod = generated as unknown as Record<string, Record<string, number>>;
    for (const [cname, spec] of Object.entries(ENUMS)) {
      const fromC = Object.fromEntries(Object.entries(btf.enums[cname]).map(([k, v]) => [k.slice(spec.prefix.length), v]));
      expect(mod[spec.ts]).toEqual(fromC);
      for (const k of Object.keys(btf.enums[cname])) expect(k.startsWith(spec.prefix)).toBe(true);
    }
    expect(FLAG).toBe(generated.FLAG);
    expect(KIND).toBe(generated.KIND);
    expect(HOOK).toBe(generated.HOOK);
    expect(REASON_NONE).toBe(0xffffffff);
  });

  it('the decoder reads every member at its BTF offset with its BTF width', () => {
    const members = btf.members.filter((m) => m.name !== '_pad');
    expect(Object.fromEntries(members.map((m) => [m.name, m.offset]))).toEqual({ ...OFFSETS });
    expect(Object.fromEntries(members.map((m) => [m.name, m.size]))).toEqual({ ...DECODED_WIDTHS });
    expect(RECORD_SIZE).toBe(btf.size);
    // the members tile the record: no hole, no overlap, nothing after the last
    let at = 0;
    for (const m of btf.members) { expect(m.offset).toBe(at); at += m.size; }
    expect(at).toBe(RECORD_SIZE);
  });
});

describe('decoder against the shared header', () => {
  it('uses exactly the offsets and size of struct rst_record as the addon (C++) sees it', () => {
    expect(RECORD_SIZE).toBe(layout.size);
    const { _pad, ...rest } = layout.offsets;
    expect(_pad).toBe(generated.RECORD_FIELDS._pad.offset);
    expect({ ...OFFSETS }).toEqual(rest);
  });

  it('uses the header constants as the addon sees them', () => {
    expect(layout.reasonNone).toBe(0xffffffff);
    expect(layout.reasonNone).toBe(REASON_NONE);
    expect(layout.commLen).toBe(generated.CONST.COMM_LEN);
    expect(layout.counterMax).toBe(generated.COUNTER.MAX);
  });

  it('decodes an IPv4 record field by field', () => {
    const bytes = record({
      ts_ns: 5_123_456_789n, cookie: 0xfedcba9876543210n, cgroup_id: 4242, ino: 99, netns: 4026531840,
      laddr: [127, 0, 0, 1], raddr: [10, 1, 2, 3], lport: 8080, rport: 54321, family: AF_INET,
      kind: KIND.SENT, state: 7, prev_state: 1, tcp_flags: 0x12, sk_err: 104, probes: 2, reason: 11,
      owner_pid: 100, owner_tid: 101, ctx_pid: 200, ctx_tid: 201, unread: 5, unsent: 6,
      flags: FLAG.HAS_SK | FLAG.FULLSOCK, hook: 1, old_state: 1, syscall: 3,
      owner_comm: 'server', ctx_comm: 'client', seq: 0xfffffff0, ack_seq: 7, rcv_nxt: 1000, rcv_wnd: 65535,
    });
    const [r] = decodeBatch(bytes, 1);
    expect(r).toEqual({
      bootSec: 5, bootNsec: 123_456_789, cookie: '18364758544493064720', cgroupId: 4242, ino: 99, family: AF_INET,
      laddr: '127.0.0.1', raddr: '10.1.2.3', lport: 8080, rport: 54321, netns: 4026531840, reason: 11,
      ownerPid: 100, ownerTid: 101, ownerComm: 'server', ctxPid: 200, ctxTid: 201, ctxComm: 'client',
      unread: 5, unsent: 6, kind: KIND.SENT, state: 7, prevState: 1, tcpFlags: 0x12, skErr: 104, probes: 2,
      flags: FLAG.HAS_SK | FLAG.FULLSOCK, hook: 1, oldState: 1, syscall: 3,
      seq: 0xfffffff0, ackSeq: 7, rcvNxt: 1000, rcvWnd: 65535,
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
