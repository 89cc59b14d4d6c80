/**
 * The Prometheus sink on sample events: what a scrape reads, label by label.
 * The endpoint tests bind loopback only (and 0.0.0.0 once, reached through
 * 127.0.0.1) with port 0, so they never collide with a running rstrace.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsSink, isLoopback, parseListenAddress } from '../../src/sinks/metrics.js';
import { RstraceError } from '../../src/errors.js';
import type { ResetEvent } from '../../src/event.js';
import { sampleEvent } from '../helpers/sample-events.js';

// no cgroup: these series have container="" and unit="" (the container/unit tests give one)
const noCgroup = { cgroup: null, container: null, cgroupId: null };
const refusedSent = (): ResetEvent => sampleEvent({ kind: 'sent', code: 11, codeKey: 'syn-unknown-port', comm: null, pid: null, attribution: 'none', ...noCgroup });
const refusedReceived = (comm = 'rstpeer'): ResetEvent => sampleEvent({ kind: 'received', code: 0, codeKey: 'remote-reset', comm, ...noCgroup });
const closedWithData = (comm: string | null, cgroup: string | null = null): ResetEvent =>
  sampleEvent({ kind: 'sent', code: 16, codeKey: 'closed-with-data', comm, ...noCgroup, cgroup });

const sinks: MetricsSink[] = [];
function newSink(opts: ConstructorParameters<typeof MetricsSink>[0] = {}): MetricsSink {
  const s = new MetricsSink({ processMetrics: false, warn: () => {}, ...opts });
  sinks.push(s);
  return s;
}
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
});

/** `name{labels} value` lines of one metric, as `{labels text: value}`. */
async function samples(sink: MetricsSink, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await sink.metrics()).split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ')) {
      const cut = line.lastIndexOf(' ');
      out[line.slice(name.length, cut)] = Number(line.slice(cut + 1));
    }
  }
  return out;
}

function expectUsageError(fn: () => unknown, exitCode: 1 | 2, message: RegExp): void {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught).toBeInstanceOf(RstraceError);
  expect((caught as RstraceError).exitCode).toBe(exitCode);
  expect((caught as RstraceError).message).toMatch(message);
  expect((caught as RstraceError).remedy).not.toBe('');
}

describe('rstrace_resets_total', () => {
  it('counts each (kind, code, code_key, comm) as its own series, with no owner as comm="kernel"', async () => {
    const sink = newSink();
    sink.writeBatch([refusedSent(), refusedReceived(), refusedSent()]);
    sink.writeBatch([refusedSent(), refusedReceived(), closedWithData('nginx')]);
    sink.writeBatch([]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({
      '{kind="sent",code="11",code_key="syn-unknown-port",comm="kernel",container="",unit=""}': 3,
      '{kind="received",code="0",code_key="remote-reset",comm="rstpeer",container="",unit=""}': 2,
      '{kind="sent",code="16",code_key="closed-with-data",comm="nginx",container="",unit=""}': 1,
    });
  });

  it('counts ignored RSTs (code 19) under kind="ignored", apart from sent and received', async () => {
    const sink = newSink();
    const ignored = (): ResetEvent => sampleEvent({ kind: 'ignored', code: 19, codeKey: 'reset-ignored', comm: 'nginx', ...noCgroup });
    sink.writeBatch([ignored(), ignored(), closedWithData('nginx')]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({
      '{kind="ignored",code="19",code_key="reset-ignored",comm="nginx",container="",unit=""}': 2,
      '{kind="sent",code="16",code_key="closed-with-data",comm="nginx",container="",unit=""}': 1,
    });
  });

  it('adds what arrived between two scrapes to what the first scrape read', async () => {
    const sink = newSink();
    sink.writeBatch([refusedSent()]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({ '{kind="sent",code="11",code_key="syn-unknown-port",comm="kernel",container="",unit=""}': 1 });
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({ '{kind="sent",code="11",code_key="syn-unknown-port",comm="kernel",container="",unit=""}': 1 });
    sink.writeBatch([refusedSent(), refusedSent()]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({ '{kind="sent",code="11",code_key="syn-unknown-port",comm="kernel",container="",unit=""}': 3 });
  });

  it('keeps the same kind and code apart for different processes, and the same process apart by kind', async () => {
    const sink = newSink();
    sink.writeBatch([closedWithData('a'), closedWithData('b'), sampleEvent({ kind: 'abort', code: 16, codeKey: 'closed-with-data', comm: 'a', ...noCgroup })]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({
      '{kind="sent",code="16",code_key="closed-with-data",comm="a",container="",unit=""}': 1,
      '{kind="sent",code="16",code_key="closed-with-data",comm="b",container="",unit=""}': 1,
      '{kind="abort",code="16",code_key="closed-with-data",comm="a",container="",unit=""}': 1,
    });
  });

  it('folds process names past --max-comms into comm="other", warns once, and keeps "kernel" apart', async () => {
    const warnings: string[] = [];
    const sink = newSink({ maxComms: 2, warn: (l) => warnings.push(l) });
    sink.writeBatch([closedWithData('a'), closedWithData('b'), closedWithData('c'), closedWithData('d'), closedWithData(null)]);
    sink.writeBatch([closedWithData('a'), closedWithData('c'), closedWithData('e')]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({
      '{kind="sent",code="16",code_key="closed-with-data",comm="a",container="",unit=""}': 2,
      '{kind="sent",code="16",code_key="closed-with-data",comm="b",container="",unit=""}': 1,
      '{kind="sent",code="16",code_key="closed-with-data",comm="other",container="",unit=""}': 4,
      '{kind="sent",code="16",code_key="closed-with-data",comm="kernel",container="",unit=""}': 1,
    });
    expect(warnings).toEqual([
      'rstrace: warning: more than 2 process names own resets; further ones are counted as comm="other" (raise --max-comms to keep more)',
    ]);
  });

  it('never has more comm values than the limit plus "other" and "kernel", however many processes reset', async () => {
    const sink = newSink({ maxComms: 100 });
    const events: ResetEvent[] = [];
    for (let i = 0; i < 5000; i++) events.push(closedWithData(`worker-${i}`), refusedReceived(`client-${i % 300}`));
    events.push(refusedSent());
    sink.writeBatch(events);
    const series = await samples(sink, 'rstrace_resets_total');
    const comms = new Set(Object.keys(series).map((k) => /comm="([^"]*)"/.exec(k)![1]));
    expect(comms.size).toBe(102);
    expect(comms.has('other')).toBe(true);
    expect(comms.has('kernel')).toBe(true);
    expect(Object.values(series).reduce((a, b) => a + b, 0)).toBe(10_001);
  });

  it('with --max-comms 0 counts every named process as comm="other"', async () => {
    const sink = newSink({ maxComms: 0 });
    sink.writeBatch([closedWithData('nginx'), closedWithData(null)]);
    expect(await samples(sink, 'rstrace_resets_total')).toEqual({
      '{kind="sent",code="16",code_key="closed-with-data",comm="other",container="",unit=""}': 1,
      '{kind="sent",code="16",code_key="closed-with-data",comm="kernel",container="",unit=""}': 1,
    });
  });

  it('rejects a negative or fractional comm limit as bad usage', () => {
    expectUsageError(() => new MetricsSink({ maxComms: -1 }), 2, /--max-comms/);
    expectUsageError(() => new MetricsSink({ maxComms: 1.5 }), 2, /--max-comms/);
  });
});

describe('tracer counters', () => {
  it('start at 0 before the tracer reports anything', async () => {
    const sink = newSink();
    expect(await samples(sink, 'rstrace_lost_events_total')).toEqual({ '': 0 });
    expect(await samples(sink, 'rstrace_filtered_events_total')).toEqual({ '': 0 });
    expect(await samples(sink, 'rstrace_delivered_events_total')).toEqual({ '': 0 });
  });

  it('follow the tracer totals by their growth, counting nothing twice', async () => {
    const sink = newSink();
    sink.updateCounters({ lost: 5, filtered: 1, delivered: 100 });
    sink.updateCounters({ lost: 5, filtered: 1, delivered: 100 });
    sink.updateCounters({ lost: 12, filtered: 4, delivered: 250 });
    expect(await samples(sink, 'rstrace_lost_events_total')).toEqual({ '': 12 });
    expect(await samples(sink, 'rstrace_filtered_events_total')).toEqual({ '': 4 });
    expect(await samples(sink, 'rstrace_delivered_events_total')).toEqual({ '': 250 });
  });

  it('never decrease when a total goes down, and count growth from the new total on', async () => {
    const sink = newSink();
    const lost: number[] = [];
    for (const total of [3, 10, 2, 2, 6, 20]) {
      sink.updateCounters({ lost: total, filtered: 0, delivered: 0 });
      lost.push((await samples(sink, 'rstrace_lost_events_total'))['']);
    }
    // 3, +7, (new baseline 2), +0, +4, +14
    expect(lost).toEqual([3, 10, 10, 10, 14, 28]);
  });
});

describe('exposition', () => {
  it('is the Prometheus text format with HELP and TYPE lines and escaped label values', async () => {
    const sink = newSink();
    sink.writeBatch([closedWithData('we"ird\\na\nme')]);
    expect(sink.registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await sink.metrics();
    expect(text).toMatch(/^# HELP rstrace_resets_total TCP resets on this host by kind .*\n# TYPE rstrace_resets_total counter\n/m);
    expect(text).toContain('# TYPE rstrace_lost_events_total counter\nrstrace_lost_events_total 0\n');
    expect(text).toContain('rstrace_resets_total{kind="sent",code="16",code_key="closed-with-data",comm="we\\"ird\\\\na\\nme",container="",unit=""} 1\n');
  });

  it('includes the process metrics unless they are turned off', async () => {
    const withProcess = newSink({ processMetrics: true });
    const text = await withProcess.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(await newSink().metrics()).not.toContain('process_cpu_seconds_total');
  });

  it('keeps each sink in its own registry', async () => {
    const a = newSink();
    const b = newSink();
    a.writeBatch([refusedSent()]);
    expect(Object.keys(await samples(a, 'rstrace_resets_total'))).toHaveLength(1);
    expect(await samples(b, 'rstrace_resets_total')).toEqual({});
  });
});

describe('listen addresses', () => {
  it('parses HOST:PORT, [IPV6]:PORT and :PORT', () => {
    expect(parseListenAddress('127.0.0.1:9477')).toEqual({ host: '127.0.0.1', port: 9477 });
    expect(parseListenAddress('[::1]:9477')).toEqual({ host: '::1', port: 9477 });
    expect(parseListenAddress(':9477')).toEqual({ host: undefined, port: 9477 });
    expect(parseListenAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListenAddress('0.0.0.0:65535')).toEqual({ host: '0.0.0.0', port: 65535 });
  });

  it.each([
    ['9477', /no port/],
    ['127.0.0.1', /no port/],
    ['127.0.0.1:', /port must be/],
    ['127.0.0.1:65536', /port must be/],
    ['127.0.0.1:http', /port must be/],
    ['::1:9477', /brackets/],
    ['[127.0.0.1]:9477', /not an IPv6 address/],
    ['256.1.1.1:9477', /not an IPv4 address or host name/],
    ['my host:9477', /not an IPv4 address or host name/],
    ['', /no port/],
  ])('rejects %j as bad usage (exit 2)', (addr, why) => {
    expectUsageError(() => parseListenAddress(addr), 2, why);
  });

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::2']) expect(isLoopback(h)).toBe(false);
  });
});

describe('the endpoint', () => {
  it('serves /metrics with the registry content type, a pointer at /, 404 and 405 elsewhere, and no warning on loopback', async () => {
    const warnings: string[] = [];
    const sink = newSink({ warn: (l) => warnings.push(l) });
    const bound = await sink.listen('127.0.0.1:0');
    expect(bound.host).toBe('127.0.0.1');
    expect(bound.port).toBeGreaterThan(0);
    sink.writeBatch([refusedSent()]);
    const base = `http://127.0.0.1:${bound.port}`;
    const m = await fetch(`${base}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await m.text()).toContain('rstrace_resets_total{kind="sent",code="11",code_key="syn-unknown-port",comm="kernel",container="",unit=""} 1\n');
    const root = await fetch(`${base}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toContain('href="/metrics"');
    expect((await fetch(`${base}/metricsx`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(warnings).toEqual([]);
  });

  it('serves IPv6 loopback', async () => {
    const sink = newSink();
    const bound = await sink.listen('[::1]:0');
    expect(bound.host).toBe('::1');
    expect((await fetch(`http://[::1]:${bound.port}/metrics`)).status).toBe(200);
  });

  it('warns in one line when every address is bound', async () => {
    const warnings: string[] = [];
    const sink = newSink({ warn: (l) => warnings.push(l) });
    const bound = await sink.listen('0.0.0.0:0');
    expect(warnings).toEqual([
      `rstrace: warning: metrics listen on 0.0.0.0:${bound.port} is reachable from other hosts; resets carry process names`,
    ]);
    expect((await fetch(`http://127.0.0.1:${bound.port}/metrics`)).status).toBe(200);
  });

  it('fails with exit 1 and a remedy when the port is in use', async () => {
    const first = newSink();
    const { port } = await first.listen('127.0.0.1:0');
    const second = newSink();
    const err = await second.listen(`127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RstraceError);
    expect((err as RstraceError).exitCode).toBe(1);
    expect((err as RstraceError).oneLine()).toBe(
      `rstrace: metrics listen on 127.0.0.1:${port}: address already in use: stop what listens there (ss -ltnp shows it) or choose another port with --listen`);
  });

  it('fails with exit 2 for an address that is not on this host', async () => {
    const err = await newSink().listen('192.0.2.1:0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RstraceError);
    expect((err as RstraceError).exitCode).toBe(2);
    expect((err as RstraceError).message).toMatch(/no such address on this host/);
  });

  it('closes even while a scraper holds a keep-alive connection, and close() is idempotent', async () => {
    const sink = newSink();
    const { port } = await sink.listen('127.0.0.1:0');
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { keepalive: true })).status).toBe(200);
    const started = Date.now();
    await sink.close();
    await sink.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
