import { describe, expect, it } from 'vitest';
import { RESET_CODES } from '../../src/codes.js';
import { renderReport, histogram } from '../../src/report/render.js';
import { summarize } from '../../src/report/summarize.js';
import { sampleEvent } from '../helpers/sample-events.js';

const events = [
  sampleEvent({ time: '2026-11-26T07:00:00.000000001Z', pid: 1, comm: 'nginx', raddr: '10.0.0.9', lport: 443, code: 16, codeKey: 'closed-with-data' }),
  sampleEvent({ time: '2026-11-26T07:00:10.000000000Z', pid: 1, comm: 'nginx', raddr: '10.0.0.9', lport: 443, code: 16, codeKey: 'closed-with-data' }),
  sampleEvent({ time: '2026-11-26T07:00:20.000000000Z', pid: 2, comm: 'curl', raddr: '10.0.0.8', lport: 50000, code: 11, codeKey: 'syn-unknown-port' }),
  sampleEvent({ time: '2026-11-26T07:00:59.999999999Z', pid: null, comm: null, raddr: 'fe80::1', lport: 22, kind: 'received', code: 0, codeKey: 'remote-reset', attribution: 'none' }),
  sampleEvent({ time: '2026-11-26T07:00:30.000000000Z', pid: 1, comm: 'nginx', raddr: '10.0.0.9', lport: 443, kind: 'abort', code: 15, codeKey: 'syn-timeout' }),
];
const meta = { lost: 7, filtered: 3, truncated: false, files: ['a.rstrace'] };

describe('summarize', () => {
  const r = summarize(events, meta);
  it('counts by kind and by code, listing every code with zeros', () => {
    expect(r.total).toBe(5);
    expect(r.byKind).toEqual({ sent: 3, received: 1, abort: 1, ignored: 0 });
    expect(r.byCode.length).toBe(RESET_CODES.length);
    expect(r.byCode.find((c) => c.code === 16)).toEqual({ code: 16, key: 'closed-with-data', name: 'Application closed with data to read', count: 2 });
    expect(r.byCode.find((c) => c.code === 4)?.count).toBe(0);
    expect(r.byCode.reduce((s, c) => s + c.count, 0)).toBe(5);
  });
  it('ranks processes, peers and local ports', () => {
    expect(r.topProcesses[0]).toEqual({ pid: 1, comm: 'nginx', count: 3 });
    expect(r.topProcesses).toContainEqual({ pid: null, comm: null, count: 1 });
    expect(r.topPeers[0]).toEqual({ raddr: '10.0.0.9', count: 3 });
    expect(r.topLocalPorts[0]).toEqual({ lport: 443, count: 3 });
    expect(r.distinct).toEqual({ processes: 3, peers: 3, localPorts: 3 });
    expect(summarize(events, { ...meta, top: 1 }).topPeers.length).toBe(1);
  });
  it('first and last time, and buckets over the span', () => {
    expect(r.firstTime).toBe('2026-11-26T07:00:00.000000001Z');
    expect(r.lastTime).toBe('2026-11-26T07:00:59.999999999Z');
    expect(r.overTime.bucketMs).toBe(1000);
    expect(r.overTime.start).toBe('2026-11-26T07:00:00.000Z');
    expect(r.overTime.counts.length).toBe(60);
    expect(r.overTime.counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(r.overTime.counts[10]).toBe(1);
  });
  it('carries lost, filtered and truncation through', () => {
    expect(r).toMatchObject({ lost: 7, filtered: 3, truncated: false, excluded: 0, files: ['a.rstrace'] });
  });
  it('an empty trace gives zeros and no times', () => {
    const empty = summarize([], meta);
    expect(empty).toMatchObject({ total: 0, firstTime: null, lastTime: null, overTime: { start: null, counts: [] } });
    expect(renderReport(empty)).toContain('0 resets');
  });
});

describe('renderReport', () => {
  const text = renderReport(summarize(events, meta));
  it('has the headline, the tables and a histogram', () => {
    expect(text).toContain('5 resets in a.rstrace');
    expect(text).toContain('lost in kernel: 7');
    expect(text).toMatch(/16 +closed-with-data +2 +40\.0%/);
    expect(text).toMatch(/1 +nginx +3 +60\.0%/);
    expect(text).toMatch(/[▁▂▃▄▅▆▇█]/);
  });
  it('escapes control characters from the trace', () => {
    const out = renderReport(summarize([sampleEvent({ comm: 'evil\u001b[2J\n' })], meta));
    expect(out).toContain('evil\\x1b[2J\\x0a');
    expect(out).not.toContain('\u001b');
  });
  it('histogram: highest bar is full, empty buckets are blank, any count shows', () => {
    expect(histogram([0, 1, 8, 100])).toBe(' ▁▁█');
  });
});
