/** The completeness check's pure parts: the snmp parser, the check's arithmetic over fake readings, its lines, the trailer field, and the report's sum. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelCheck, type NetnsCheck } from '../../src/completeness/check.js';
import { KernelCheckMetrics } from '../../src/completeness/metrics.js';
import { checkSummary, mismatchWarning, reportCheckLines, sumChecks } from '../../src/completeness/summary.js';
import { HOOK, KIND, OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { parseOutRsts } from '../../src/kernel/snmp.js';
import { reportFiles } from '../../src/report/run.js';
import { decodeChecks, encodeChecks } from '../../src/tracefile/kernel-check.js';
import { decodeTraceBytes, readTraceFile } from '../../src/tracefile/reader.js';
import { TraceFileWriter } from '../../src/tracefile/writer.js';
import { headerInput } from '../helpers/tracefile.js';

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 120
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 10 2 3 0 1 500 480 0 0 17 0
Udp: InDatagrams NoPorts
Udp: 0 0
`;

const dir = mkdtempSync(join(tmpdir(), 'rsth2-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake kernel: hits per netns and TcpOutRsts per path, changed by the test between readings. */
function fakeKernel() {
  const hits = new Map<number, number>();
  const outRsts = new Map<string, { netns: number; outRsts: number }>();
  let duringRead: (() => void) | null = null;
  const deps = {
    hits: () => ({ byNetns: [...hits] as [number, number][], overflow: 0 }),
    read: (path: string) => { duringRead?.(); return outRsts.get(path) ?? null; },
    scan: () => ({ found: [...outRsts].map(([path, r]) => ({ netns: r.netns, path, name: path.split('/').pop() ?? path })), leftOut: 0 }),
    find: () => null,
  };
  const rst = (path: string, netns: number, n = 1, counted = n): void => {
    hits.set(netns, (hits.get(netns) ?? 0) + n);
    const r = outRsts.get(path);
    if (r) r.outRsts += counted;
  };
  return { hits, outRsts, deps, rst, onRead: (f: (() => void) | null) => { duringRead = f; } };
}

/** `n` sent records from tcp_send_reset in `netns`, then one received record there (not counted). */
function sentRecords(netns: number, n: number, hook: number = HOOK.SEND_RESET): Uint8Array {
  const buf = new Uint8Array((n + 1) * RECORD_SIZE);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i <= n; i++) {
    const o = i * RECORD_SIZE;
    dv.setUint32(o + OFFSETS.netns, netns, true);
    buf[o + OFFSETS.kind] = i < n ? KIND.SENT : KIND.RECEIVED;
    buf[o + OFFSETS.hook] = i < n ? hook : HOOK.RECEIVE_RESET;
  }
  return buf;
}

const equal = (over: Partial<NetnsCheck>): NetnsCheck => ({
  netns: 1, name: 'a', outRsts: 0, hooked: 0, slack: 0, seenSent: 0, notDelivered: 0, status: 'equal', note: null, ...over,
});

describe('TcpOutRsts from /proc/net/snmp', () => {
  it('reads the OutRsts column of the Tcp: lines by its name', () => {
    expect(parseOutRsts(SNMP)).toBe(17);
  });
  it('is null for text without a Tcp: table or without the column', () => {
    expect(parseOutRsts('Ip: a\nIp: 1\n')).toBeNull();
    expect(parseOutRsts('Tcp: A B\nTcp: 1 2\n')).toBeNull();
  });
});

describe('KernelCheck', () => {
  it('is equal when the hook saw every RST the counter counted, and counts the filtered ones as not delivered', () => {
    const k = fakeKernel();
    k.outRsts.set('/run/netns/a', { netns: 11, outRsts: 500 });
    k.rst('/run/netns/a', 11, 4); // before the trace: in neither window
    const check = new KernelCheck(k.deps);
    check.start();
    k.rst('/run/netns/a', 11, 5);
    check.countBatch(sentRecords(11, 3), 4); // 3 of the 5 reached rstrace (2 filtered in the kernel)
    check.end();
    expect(check.result()).toEqual([equal({ netns: 11, name: 'a', outRsts: 5, hooked: 5, seenSent: 3, notDelivered: 6 })]);
  });

  it('differs when the counter moved without the hook (or the other way), and the warning names both numbers', () => {
    const k = fakeKernel();
    k.outRsts.set('/run/netns/b', { netns: 12, outRsts: 0 });
    const check = new KernelCheck(k.deps);
    check.start();
    k.rst('/run/netns/b', 12, 2, 0); // IPv6 with no route back: hooked, never counted
    check.countBatch(sentRecords(12, 2), 3);
    check.end();
    const [c] = check.result();
    expect(c).toEqual({ ...equal({ netns: 12, name: 'b', outRsts: 0, hooked: 2, seenSent: 2 }), status: 'differs' });
    expect(mismatchWarning(c)).toBe('warning: kernel check: netns 12 (b): the kernel counted 0 RSTs sent (TcpOutRsts) but tcp_send_reset fired 2 times; 2 reached rstrace, 0 filtered or lost; see "Completeness" in the README');
  });

  it('reads again while RSTs fall between a reading and its hits, and keeps what still fell as slack', () => {
    const k = fakeKernel();
    k.outRsts.set('/run/netns/c', { netns: 13, outRsts: 0 });
    const check = new KernelCheck(k.deps);
    let busy = 2; // the first two readings each have an RST land inside them
    k.onRead(() => { if (busy-- > 0) k.rst('/run/netns/c', 13, 1); });
    check.start();
    k.onRead(() => k.rst('/run/netns/c', 13, 1)); // a storm: every end reading is busy
    check.end();
    const [c] = check.result();
    expect(c.status).toBe('equal');
    // first reading quiet on the third pass (2 RSTs so far); the end's first pass kept: one RST inside it
    expect(c).toMatchObject({ outRsts: 1, hooked: 0, slack: 1 });
    expect(Math.abs((c.outRsts ?? 0) - (c.hooked ?? 0))).toBeLessThanOrEqual(c.slack);
  });

  it('leaves unchecked, and says why, a namespace it could not read at both ends', () => {
    const k = fakeKernel();
    k.outRsts.set('/run/netns/d', { netns: 14, outRsts: 0 });
    const check = new KernelCheck(k.deps);
    check.start();
    k.outRsts.delete('/run/netns/d');
    k.hits.set(14, 1);
    k.hits.set(99, 2); // a namespace that appeared during the trace
    check.countBatch(sentRecords(99, 2), 3);
    check.end();
    const [d, late] = check.result();
    expect(d).toMatchObject({ netns: 14, status: 'unchecked', outRsts: null, hooked: null, notDelivered: 1 });
    expect(d.note).toMatch(/gone before the end/);
    expect(late).toMatchObject({ netns: 99, name: 'not reached', status: 'unchecked', seenSent: 2, notDelivered: 0 });
    expect(late.note).toMatch(/not reachable/);
  });

  it('adopts a namespace that appeared during the trace, checked from its first reading on; one found nowhere is not looked for again', () => {
    const k = fakeKernel();
    let scans = 0;
    const scan = k.deps.scan;
    const check = new KernelCheck({ ...k.deps, scan: () => { scans++; return scan(); } });
    check.start();
    k.hits.set(41, 2); // RSTs in a namespace not there at the start (and in one never reachable: 42)
    k.hits.set(42, 1);
    k.outRsts.set('/run/netns/late', { netns: 41, outRsts: 2 });
    check.adopt();
    k.rst('/run/netns/late', 41, 3);
    check.adopt(); // nothing new: no scan
    expect(scans).toBe(2);
    k.hits.set(42, 2);
    check.adopt(); // 42 is known to be unreachable: no scan either
    expect(scans).toBe(2);
    check.end();
    const [late, never] = check.result();
    expect(late).toEqual(equal({ netns: 41, name: 'late', outRsts: 3, hooked: 3, notDelivered: 5 }));
    expect(never).toMatchObject({ netns: 42, status: 'unchecked', notDelivered: 2 });
  });

  it('counts only sent records of the tcp_send_reset hook (a firewall RST has a hook of its own)', () => {
    const check = new KernelCheck({ hits: () => ({ byNetns: [], overflow: 0 }), scan: () => ({ found: [], leftOut: 0 }) });
    check.countBatch(sentRecords(21, 2), 3);
    check.countBatch(sentRecords(21, 4, 9), 5);
    expect(check.result().map((c) => [c.netns, c.seenSent])).toEqual([[21, 2]]);
  });
});

describe('completeness lines and sums', () => {
  it('summarizes the namespaces with resets and warns once per mismatch', () => {
    const checks = [equal({ netns: 1, name: 'host' }), equal({ netns: 2, name: 'web', outRsts: 3, hooked: 3, seenSent: 2, notDelivered: 1 }),
      equal({ netns: 3, name: 'db', outRsts: 1, hooked: 0, status: 'differs' })];
    const { lines, warnings } = checkSummary(checks);
    expect(lines).toEqual([
      'kernel check: TcpOutRsts differs from the tcp_send_reset hook in 2 of 3 namespaces; 3 stack RSTs hooked, 2 reached rstrace, 1 filtered or lost',
      '  netns 2 (web): TcpOutRsts +3 = hook 3; 2 seen, 1 filtered or lost',
      '  netns 3 (db): TcpOutRsts +1 ≠ hook 0; 0 seen, 0 filtered or lost',
    ]);
    expect(warnings).toEqual([mismatchWarning(checks[2])]);
  });

  it('sums files namespace by namespace; one mismatch makes the sum differ', () => {
    const a = [equal({ netns: 5, outRsts: 2, hooked: 2, seenSent: 2 })];
    const b = [equal({ netns: 5, outRsts: 1, hooked: 0, status: 'differs' }), equal({ netns: 6, status: 'unchecked', outRsts: null, hooked: null, seenSent: 4, note: 'x' })];
    expect(sumChecks([a, b])).toEqual([
      equal({ netns: 5, outRsts: 3, hooked: 2, seenSent: 2, status: 'differs' }),
      equal({ netns: 6, status: 'unchecked', outRsts: null, hooked: null, seenSent: 4, note: 'x' }),
    ]);
  });

  it('prints a namespace named after a hostile process name inert', () => {
    const c = equal({ netns: 7, name: 'pid 9 (\u001b[2Jx)', outRsts: 1, hooked: 2, status: 'differs' });
    expect(mismatchWarning(c)).toContain('netns 7 (pid 9 (\\x1b[2Jx))');
  });

  it('says when the files hold no check', () => {
    expect(reportCheckLines(null)[0]).toMatch(/^kernel check: not in these files/);
  });
});

describe('the trailer field', () => {
  const checks = [equal({ netns: 4026532178, name: 'rsth2-a', outRsts: 7, hooked: 7, seenSent: 5, notDelivered: 2 }),
    equal({ netns: 0, name: 'unattributed', status: 'unchecked', outRsts: null, hooked: null, note: 'why' })];

  it('round-trips through a trace file and is summed by report --json', () => {
    const path = join(dir, 'with-check.rstrace');
    TraceFileWriter.open(path, headerInput()).close({ delivered: 5, lost: 0, filtered: 2 }, checks);
    expect(readTraceFile(path).trailer).toMatchObject({ delivered: 5, lost: 0, filtered: 2, kernel: checks });
    const { report } = reportFiles([path, path]);
    expect(report.kernel).toEqual(sumChecks([checks, checks]));
    expect(report.kernel?.[1]).toMatchObject({ netns: 4026532178, outRsts: 14, hooked: 14, seenSent: 10, notDelivered: 4, status: 'equal' });
  });

  it('reads files written before the check (a five-element trailer) with kernel null', () => {
    const path = join(dir, 'old.rstrace');
    TraceFileWriter.open(path, headerInput()).close({ delivered: 0, lost: 0, filtered: 0 });
    const f = readTraceFile(path);
    expect(f.trailer?.kernel).toBeNull();
    expect(f.damage).toBeNull();
    expect(reportFiles([path]).report.kernel).toBeNull();
  });

  it('is damage, not a crash, when the field is malformed', () => {
    const path = join(dir, 'bad.rstrace');
    TraceFileWriter.open(path, headerInput()).close({ delivered: 0, lost: 0, filtered: 0 });
    const good = readFileSync(path);
    const trailer = new Packr({ useRecords: false }).pack(['end', 0, 0, 0, '2026-12-02T00:00:00.000Z', [[1, 'x']]]);
    const head = good.subarray(0, good.length - new Packr({ useRecords: false }).pack(['end', 0, 0, 0, '2026-12-02T00:00:00.000Z']).length);
    writeFileSync(path, Buffer.concat([head, trailer]));
    const f = decodeTraceBytes(readFileSync(path));
    expect(f.trailer).toBeNull();
    expect(f.damage?.detail).toBe('kernel check entry is not a 9-element array');
    expect(decodeChecks(encodeChecks(checks))).toEqual(checks);
  });
});

describe('metrics', () => {
  it('exposes the live check per namespace at scrape time', async () => {
    const k = fakeKernel();
    k.outRsts.set('/run/netns/m', { netns: 31, outRsts: 10 });
    const registry = new Registry();
    const m = new KernelCheckMetrics(registry);
    expect(await registry.metrics()).not.toMatch(/^rstrace_kernel_out_rsts\{/m);
    const check = new KernelCheck(k.deps);
    check.start();
    m.watch(check);
    k.rst('/run/netns/m', 31, 3, 4);
    check.countBatch(sentRecords(31, 3), 4);
    const text = await registry.metrics();
    expect(text).toContain('rstrace_kernel_out_rsts{netns="31",name="m"} 4');
    expect(text).toContain('rstrace_kernel_send_reset_hooks{netns="31",name="m"} 3');
    expect(text).toContain('rstrace_kernel_seen_sent{netns="31",name="m"} 3');
    expect(text).toContain('rstrace_kernel_not_delivered{netns="31",name="m"} 0');
    expect(text).toContain('rstrace_kernel_check_mismatch{netns="31",name="m"} 1');
  });
});
