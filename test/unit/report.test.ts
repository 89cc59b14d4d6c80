import { describe, expect, it } from 'vitest';
import { RESET_CODES } from '../../src/codes.js';
import { renderReport, histogram } from '../../src/report/render.js';
import { servicePort } from '../../src/report/service-port.js';
import { summarize } from '../../src/report/summarize.js';
import { unitOf } from '../../src/enrich/container.js';
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
  it('ranks processes, peers and local ports; resets no process owns are counted apart', () => {
    expect(r.topProcesses[0]).toEqual({ pid: 1, comm: 'nginx', count: 3 });
    expect(r.topProcesses).toEqual([{ pid: 1, comm: 'nginx', count: 3 }, { pid: 2, comm: 'curl', count: 1 }]);
    expect(r.unowned).toBe(1);
    expect(r.topPeers[0]).toEqual({ raddr: '10.0.0.9', count: 3 });
    expect(r.topLocalPorts[0]).toEqual({ lport: 443, count: 3 });
    expect(r.topRemotePorts).toEqual([{ rport: 43210, count: 5 }]);
    expect(r.distinct).toEqual({ processes: 2, peers: 3, localPorts: 3, remotePorts: 1, servicePorts: 3, containers: 0, units: 1 });
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
    expect(r.overTime.end).toBe('2026-11-26T07:01:00.000Z');
    expect(r.overTime.peak).toBe(1);
  });
  it('splits the buckets by code, codes seen only, summing to the counts', () => {
    const t = r.overTime;
    expect(t.byCode.map((c) => c.code)).toEqual([0, 11, 15, 16]);
    expect(t.byCode.find((c) => c.code === 16)?.counts[10]).toBe(1);
    expect(t.byCode.find((c) => c.code === 16)?.counts[0]).toBe(1);
    expect(t.byCode.find((c) => c.code === 0)?.counts[59]).toBe(1);
    for (let b = 0; b < t.counts.length; b++) expect(t.byCode.reduce((s, c) => s + c.counts[b], 0)).toBe(t.counts[b]);
  });
  it('keeps the split by code when the time resolution coarsens', () => {
    // 100,001 distinct milliseconds force one coarsening; two codes alternate
    const many = Array.from({ length: 100_002 }, (_, i) => sampleEvent({
      time: new Date(Date.UTC(2026, 10, 26, 7) + i).toISOString(), code: i % 2 ? 16 : 11, codeKey: i % 2 ? 'closed-with-data' : 'syn-unknown-port',
    }));
    const t = summarize(many, meta).overTime;
    expect(t.counts.reduce((a, b) => a + b, 0)).toBe(100_002);
    expect(t.byCode.map((c) => [c.code, c.counts.reduce((a, b) => a + b, 0)])).toEqual([[11, 50_001], [16, 50_001]]);
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

describe('service port: the listening side\'s port', () => {
  const base = { kind: 'sent' as const, code: 16, state: 'ESTABLISHED', lport: 8080, rport: 43210 };
  it('a refused SYN and a server socket: lport', () => {
    expect(servicePort({ ...base, code: 11, state: null, lport: 40000, rport: 50000 })).toBe(40000);
    expect(servicePort({ ...base, state: 'SYN_RECV', lport: 40000, rport: 80 })).toBe(40000);
  });
  it('a connecting socket: rport', () => {
    expect(servicePort({ ...base, kind: 'abort', code: 15, state: 'SYN_SENT', lport: 80, rport: 40000 })).toBe(40000);
  });
  it('otherwise the end below the ephemeral range, whichever side it is', () => {
    expect(servicePort({ ...base, kind: 'received', code: 0, lport: 43210, rport: 443 })).toBe(443);
    expect(servicePort({ ...base, kind: 'received', code: 0, lport: 443, rport: 43210 })).toBe(443);
    expect(servicePort({ ...base, lport: 43210, rport: 5432 })).toBe(5432);
  });
  it('both ends alike: lport for sent, rport for the rest', () => {
    expect(servicePort({ ...base, lport: 40000, rport: 50000 })).toBe(40000);
    expect(servicePort({ ...base, kind: 'received', code: 0, lport: 40000, rport: 50000 })).toBe(50000);
    expect(servicePort({ ...base, kind: 'ignored', code: 19, lport: 80, rport: 22 })).toBe(22);
  });
  it('a client storm of ephemeral ports folds into one service port', () => {
    const storm = Array.from({ length: 200 }, (_, i) => sampleEvent({ kind: 'received', code: 0, codeKey: 'remote-reset', lport: 40000 + i, rport: 8443 }));
    const r = summarize(storm, meta);
    expect(r.topServicePorts).toEqual([{ port: 8443, count: 200 }]);
    expect(r.distinct.localPorts).toBe(200);
  });
});

describe('containers, units and suspicious resets', () => {
  const cri = '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-4f2a.scope';
  const evs = [
    sampleEvent({ container: '4f2a', cgroup: cri }),
    sampleEvent({ container: '4f2a', cgroup: cri }),
    sampleEvent({ container: null, cgroup: '/system.slice/nginx.service' }),
    sampleEvent({ container: null, cgroup: '/user.slice/user-1000.slice/session-2.scope' }),
    sampleEvent({ container: null, cgroup: '/' }),
    sampleEvent({ container: null, cgroup: null, kind: 'ignored', code: 19, codeKey: 'ignored-rst', raddr: '10.9.9.9', signals: ['out-of-window'] }),
    sampleEvent({ container: null, cgroup: null, kind: 'ignored', code: 19, codeKey: 'ignored-rst', raddr: '10.9.9.9', signals: null }),
    sampleEvent({ container: null, cgroup: null, kind: 'received', code: 0, codeKey: 'remote-reset', raddr: '10.8.8.8', signals: ['reset-seq-change', 'out-of-window'] }),
  ];
  const r = summarize(evs, meta);
  it('unitOf: the deepest .service or .scope component', () => {
    expect(unitOf(cri)).toBe('cri-containerd-4f2a.scope');
    expect(unitOf('/system.slice/nginx.service')).toBe('nginx.service');
    expect(unitOf('/system.slice/docker.service/extra')).toBe('docker.service');
    expect(unitOf('/system.slice')).toBeNull();
    expect(unitOf('/')).toBeNull();
    expect(unitOf(null)).toBeNull();
  });
  it('tops by container and by unit', () => {
    expect(r.topContainers).toEqual([{ container: '4f2a', count: 2 }]);
    expect(r.topUnits).toEqual([
      { unit: 'cri-containerd-4f2a.scope', count: 2 }, { unit: 'nginx.service', count: 1 }, { unit: 'session-2.scope', count: 1 },
    ]);
    expect(r.distinct).toMatchObject({ containers: 1, units: 3 });
  });
  it('no container or unit anywhere: empty tops and no such section in the text', () => {
    const plain = summarize([sampleEvent({ cgroup: null })], meta);
    expect(plain.topContainers).toEqual([]);
    expect(plain.topUnits).toEqual([]);
    const text = renderReport(plain);
    expect(text).not.toContain('Top containers');
    expect(text).not.toContain('Top units');
  });
  it('suspicious: ignored RSTs and resets with signals, by signal and by peer', () => {
    expect(r.suspicious).toEqual({
      total: 3, ignored: 2, withSignals: 2,
      bySignal: [{ signal: 'out-of-window', count: 2 }, { signal: 'reset-seq-change', count: 1 }],
      byPeer: [{ raddr: '10.9.9.9', count: 2 }, { raddr: '10.8.8.8', count: 1 }],
      distinctPeers: 2,
    });
  });
  it('the text shows them', () => {
    const text = renderReport(r);
    expect(text).toContain('Suspicious resets: 3 (37.5%): 2 ignored by the kernel, 2 with signals');
    expect(text).toMatch(/out-of-window +2 +66\.7%/);
    expect(text).toMatch(/10\.9\.9\.9 +2 +66\.7%/);
    expect(text).toMatch(/4f2a +2 +25\.0%/);
    expect(text).toMatch(/nginx\.service +1 +12\.5%/);
  });
  it('none suspicious is said in one line', () => {
    expect(summarize([sampleEvent()], meta).suspicious).toMatchObject({ total: 0, bySignal: [], byPeer: [] });
    expect(renderReport(summarize([sampleEvent()], meta))).toContain('Suspicious resets: 0 (0.0%): no ignored RST, no reset with signals');
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
  it('counts the kernel apart from processes', () => {
    expect(text).toContain('kernel (no socket): 1 (20.0%)');
    expect(text).not.toMatch(/^ +- +- +1/m);
  });
  it('a service-port view with its rule, beside local and remote ports', () => {
    expect(text).toContain('Top service ports (3 of 3)');
    expect(text).toContain('the listening side\'s port');
    expect(text).toContain('Top remote ports (1 of 1)');
  });
  it('the timeline has start, end and scale', () => {
    expect(text).toContain('Over time: 1 s per bar, 60 bars; █ = 1 (the peak), one step of 8 = 0.13');
    expect(text).toMatch(/\n {2}2026-11-26 07:00:00\.000 +2026-11-26 07:01:00\.000 UTC\n/);
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
