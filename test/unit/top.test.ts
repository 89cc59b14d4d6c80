import { describe, expect, it } from 'vitest';
import { TopTally, OWNER_KERNEL, MAX_KEYS, KEY_OTHER } from '../../src/top/tally.js';
import { renderTop, summaryLine } from '../../src/top/render.js';
import { ServicePorts } from '../../src/top/service-port.js';
import { sampleEvent } from '../helpers/sample-events.js';

const EPH: [number, number] = [32768, 60999];
const refusedSent = sampleEvent({ kind: 'sent', code: 11, lport: 40001, rport: 45000, laddr: '127.0.0.1', raddr: '127.0.0.1', pid: null, comm: null, state: null });
const refusedRecv = sampleEvent({ kind: 'received', code: 0, lport: 45000, rport: 40001, state: 'SYN_SENT', comm: 'loadgen', laddr: '127.0.0.1', raddr: '127.0.0.1' });
const frame = { columns: 100, rows: 30, elapsedSec: 5, lost: 0, filtered: 2, color: false, keys: true };

describe('the service port is the listening side\'s', () => {
  it('refused connects name the port that refused, on both halves', () => {
    const s = new ServicePorts(EPH);
    expect(s.of(refusedSent)).toBe(40001);
    expect(s.of(refusedRecv)).toBe(40001);
  });
  it('otherwise the port outside the ephemeral range, else the one seen in more resets, else the lower one', () => {
    const s = new ServicePorts(EPH);
    expect(s.of(sampleEvent({ lport: 8080, rport: 43210 }))).toBe(8080);
    expect(s.of(sampleEvent({ kind: 'received', lport: 43210, rport: 443, state: 'ESTABLISHED' }))).toBe(443);
    // a server on an ephemeral port (bound to port 0): both ports ephemeral
    expect(s.of(sampleEvent({ lport: 50000, rport: 40000 }))).toBe(40000);
    expect(s.of(sampleEvent({ kind: 'sent', code: 6, lport: 41000, rport: 50000 }))).toBe(50000);
    expect(s.of(sampleEvent({ kind: 'received', code: 0, lport: 50000, rport: 41000, state: 'ESTABLISHED' }))).toBe(50000);
    expect(s.of(sampleEvent({ kind: 'sent', code: 6, lport: 39000, rport: 50000 }))).toBe(50000);
  });
});

describe('top counts every event by code, owner, peer and service port', () => {
  it('totals, rates and owners (container, else comm, else the kernel)', () => {
    const t = new TopTally(EPH);
    for (let i = 0; i < 1000; i++) { t.visit(refusedSent); t.visit(refusedRecv); }
    t.visit(sampleEvent({ container: 'abc123def456', comm: 'nginx', raddr: '::ffff:10.1.2.3' }));
    t.tick(2);
    expect(t.total).toBe(2001);
    expect(t.rate).toBe(1000.5);
    expect(t.codes.rows().map((r) => [r.key, r.total])).toEqual([[0, 1000], [11, 1000], [16, 1]]);
    expect(t.owners.rows().map((r) => [r.key, r.total])).toEqual([[OWNER_KERNEL, 1000], ['loadgen', 1000], ['abc123def456', 1]]);
    expect(t.peers.rows().map((r) => [r.key, r.total])).toEqual([['127.0.0.1', 2000], ['10.1.2.3', 1]]);
    expect(t.ports.rows().map((r) => [r.key, r.total, r.rate])).toEqual([[40001, 2000, 1000], [8080, 1, 0.5]]);
    t.tick(1);
    expect(t.rate).toBe(0);
    expect(t.peakRate).toBe(1000.5);
    expect(t.ports.rows()[0]).toMatchObject({ key: 40001, total: 2000, rate: 0 });
  });

  it('keys past MAX_KEYS of a dimension count as "other", so a scan cannot grow it without bound', () => {
    const t = new TopTally(EPH);
    for (let i = 0; i < MAX_KEYS + 10; i++) t.visit(sampleEvent({ raddr: `10.0.${i >> 8}.${i & 255}` }));
    const rows = t.peers.rows();
    expect(rows.length).toBe(MAX_KEYS + 1);
    expect(rows.find((r) => r.key === KEY_OTHER)?.total).toBe(10);
  });
});

describe('the top screen fits the terminal', () => {
  const busy = (): TopTally => {
    const t = new TopTally(EPH);
    for (let i = 0; i < 40; i++) t.visit(sampleEvent({ comm: `worker-with-a-long-name-${i}`, raddr: `10.0.0.${i}`, lport: 1000 + i, code: i % 19 }));
    for (let i = 0; i < 500; i++) t.visit(refusedSent);
    t.tick(1);
    return t;
  };

  it.each([[100, 30], [80, 24], [60, 40], [200, 50]])('at %ix%i: no line wider, no more lines than rows, the busiest first', (columns, rows) => {
    const lines = renderTop(busy(), { ...frame, columns, rows });
    expect(lines.length).toBeLessThanOrEqual(rows);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(columns);
    expect(lines[0]).toMatch(/^rstrace top 00:00:05 \| 540 resets, 540\/s \(peak 540\/s\), /);
    if (columns >= 100) expect(lines[0]).toContain('0 lost, 2 filtered | q quits');
    const owner = lines.find((l) => l.includes(OWNER_KERNEL));
    expect(owner).toMatch(new RegExp(`${OWNER_KERNEL.replace(/[()]/g, '\\$&')}\\s+500\\s+500`));
    // what does not fit is summed up on the last line of its table, not dropped
    expect(lines.some((l) => /^\(\d+ more\)/.test(l) || /\s\(\d+ more\)/.test(l))).toBe(true);
  });

  it('side by side at 100 columns: CODE beside OWNER, REMOTE PEER beside SERVICE PORT', () => {
    const lines = renderTop(busy(), frame);
    expect(lines[2]).toMatch(/^CODE\s+\/s\s+TOTAL\s+OWNER\s+\/s\s+TOTAL$/);
    expect(lines.some((l) => /^REMOTE PEER\s+\/s\s+TOTAL\s+SERVICE PORT\s+\/s\s+TOTAL$/.test(l))).toBe(true);
    expect(lines.some((l) => /^11 syn-unknown-port\s+50\d\s+50\d\s/.test(l))).toBe(true);
  });

  it('the summary names the total and the top codes', () => {
    const t = new TopTally(EPH);
    t.visit(refusedSent); t.visit(refusedRecv); t.visit(refusedRecv);
    t.tick(1);
    expect(summaryLine(t, 2.04)).toBe('rstrace top: 3 resets in 2.0 s, peak 3/s; 0 remote-reset 2, 11 syn-unknown-port 1');
    expect(summaryLine(t, 2.04, 60)).toBe('rstrace top: 3 resets in 2.0 s, peak 3/s; 0 remote-reset 2');
  });
});
