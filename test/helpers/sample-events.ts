/**
 * Realistic ResetEvents for tests and benchmarks, from a seeded PRNG so that a
 * failing case can be replayed.
 */
import { ATTRIBUTIONS, EVENT_SCHEMA, KINDS, type FieldSpec, type ResetEvent } from '../../src/event.js';
import { RESET_CODES } from '../../src/codes.js';
import { formatEpochNs, formatIsoMs } from '../../src/enrich/clock.js';
import type { TcpStateName } from '../../src/kernel/names.js';

/** mulberry32: small, fast, good enough for test data. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const BASE_NS = 1795158000_000000000n; // 2026-11-20T07:00:00Z

/**
 * An event in contract order from the fields given; a nullable field not
 * given is null, so that a field added to EVENT_SCHEMA needs no edit here.
 * A value given as undefined stays undefined (tests of the encoders use it).
 */
export function eventOf(fields: Partial<ResetEvent>): ResetEvent {
  const out: Record<string, unknown> = {};
  for (const f of EVENT_SCHEMA as readonly FieldSpec[]) {
    if (f.name in fields) out[f.name] = (fields as Record<string, unknown>)[f.name];
    else if (f.nullable) out[f.name] = null;
    else throw new Error(`test event without its non-null field ${f.name}`);
  }
  return out as ResetEvent;
}

/** One plausible event; override any field. */
export function sampleEvent(overrides: Partial<ResetEvent> = {}): ResetEvent {
  return eventOf({
    time: '2026-11-26T07:00:00.123456789Z',
    kind: 'sent',
    code: 16,
    codeKey: 'closed-with-data',
    reason: 'TCP_ABORT_ON_CLOSE',
    family: 'ipv4',
    laddr: '10.0.0.1',
    lport: 8080,
    raddr: '10.0.0.2',
    rport: 43210,
    state: 'ESTABLISHED',
    pid: 1234,
    tid: 1235,
    comm: 'nginx',
    attribution: 'context',
    cgroupId: 4242,
    netns: 4026531840,
    unread: 512,
    unsent: 0,
    cookie: '8193',
    actorPid: null,
    actorComm: null,
    probes: null,
    explanation: 'the application closed the socket with 512 bytes it had not read',
    cgroup: '/system.slice/nginx.service',
    container: null,
    signals: null,
    ...overrides,
  });
}

const COMMS = ['nginx', 'curl', 'java', 'envoy', 'python3', 'kworker/u8:2', 'weird "name",x', 'ünï\ncode'];
const STATES: readonly TcpStateName[] = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSE'];
const REASONS = ['NOT_SPECIFIED', 'NO_SOCKET', 'TCP_ABORT_ON_CLOSE', 'TCP_ABORT_ON_DATA', 'TCP_KEEPALIVE_TIMEOUT', 'INVALID_SYN'];

/**
 * Events that exercise every branch of the encoding: both families, every
 * kind and code, nulls wherever the contract allows them, cookies beyond
 * 2^53, odd strings, times out of order, far apart, and not in canonical form.
 */
export function variedEvents(count: number, seed = 1): ResetEvent[] {
  const rnd = makeRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const maybe = <T>(v: T, p = 0.3): T | null => (rnd() < p ? null : v);
  const events: ResetEvent[] = [];
  let ns = BASE_NS;
  let cookie = 1000n;
  for (let i = 0; i < count; i++) {
    const r = rnd();
    // mostly close together, sometimes backwards, sometimes weeks apart
    ns += r < 0.8 ? BigInt(Math.floor(rnd() * 5e6)) : r < 0.9 ? -BigInt(Math.floor(rnd() * 1e6)) : BigInt(Math.floor(rnd() * 3e15));
    const v6 = rnd() < 0.4;
    const code = pick(RESET_CODES);
    cookie += BigInt(Math.floor(rnd() * 50));
    const cookieText = rnd() < 0.1 ? (18446744073709551615n - BigInt(i)).toString()
      : rnd() < 0.05 ? '00' + i : cookie.toString();
    const timeText = rnd() < 0.03 ? formatIsoMs(Number(ns / 1000000n)) : formatEpochNs(ns);
    events.push(eventOf({
      time: timeText,
      kind: pick(KINDS),
      code: code.code,
      codeKey: code.key,
      reason: maybe(pick(REASONS)),
      family: v6 ? 'ipv6' : 'ipv4',
      laddr: v6 ? `2001:db8::${(i % 7).toString(16)}` : `10.0.${i % 3}.1`,
      lport: Math.floor(rnd() * 65536),
      raddr: v6 ? `fe80::${Math.floor(rnd() * 65536).toString(16)}` : `192.168.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 256)}`,
      rport: Math.floor(rnd() * 65536),
      state: maybe(pick(STATES)),
      pid: maybe(Math.floor(rnd() * 4194304)),
      tid: maybe(Math.floor(rnd() * 4194304)),
      comm: maybe(pick(COMMS)),
      attribution: pick(ATTRIBUTIONS),
      cgroupId: maybe(Math.floor(rnd() * 2 ** 40)),
      netns: maybe(4026531840 + Math.floor(rnd() * 1000)),
      unread: maybe(Math.floor(rnd() * 1e6)),
      unsent: maybe(Math.floor(rnd() * 1e6)),
      cookie: maybe(cookieText),
      actorPid: maybe(Math.floor(rnd() * 100000), 0.8),
      actorComm: maybe('ss', 0.8),
      probes: maybe(Math.floor(rnd() * 10), 0.8),
      explanation: code.name,
    }));
  }
  return events;
}

export interface StormOptions {
  seed?: number;
  /** distinct owning processes */
  comms?: string[];
  /** client ports are drawn from this many */
  portSpread?: number;
  /** mean gap between events, ns */
  meanGapNs?: number;
}

/**
 * A reset storm: a few processes, one server port, clients on a few thousand
 * ports, events microseconds apart, one new socket (cookie) per reset.
 */
export function stormEvents(count: number, opts: StormOptions = {}): ResetEvent[] {
  return [...stormEventStream(count, opts)];
}

/** The same events as stormEvents, one at a time (a million do not fit comfortably in memory). */
export function* stormEventStream(count: number, opts: StormOptions = {}): Generator<ResetEvent> {
  const rnd = makeRng(opts.seed ?? 7);
  const comms = opts.comms ?? ['nginx', 'envoy', 'curl'];
  const spread = opts.portSpread ?? 3000;
  const gap = opts.meanGapNs ?? 20_000;
  const owners = comms.map((comm, i) => ({ comm, pid: 2000 + i * 17, cgroupId: 9000 + i }));
  let ns = BASE_NS;
  let cookie = 40961;
  for (let i = 0; i < count; i++) {
    ns += BigInt(Math.floor(rnd() * 2 * gap));
    cookie += 1 + Math.floor(rnd() * 3);
    const o = owners[Math.floor(rnd() * owners.length)];
    const closedWithData = rnd() < 0.7;
    yield eventOf({
      time: formatEpochNs(ns),
      kind: 'sent',
      code: closedWithData ? 16 : 6,
      codeKey: closedWithData ? 'closed-with-data' : 'application-abort',
      reason: closedWithData ? 'TCP_ABORT_ON_CLOSE' : 'TCP_ABORT_ON_LINGER',
      family: 'ipv4',
      laddr: '10.0.0.1',
      lport: 8080,
      raddr: '10.0.0.2',
      rport: 32768 + Math.floor(rnd() * spread),
      state: 'ESTABLISHED',
      pid: o.pid,
      tid: o.pid,
      comm: o.comm,
      attribution: 'context',
      cgroupId: o.cgroupId,
      netns: 4026531840,
      unread: closedWithData ? 517 : 0,
      unsent: 0,
      cookie: String(cookie),
      actorPid: null,
      actorComm: null,
      probes: null,
      explanation: closedWithData ? 'closed with unread data' : 'aborted by the application (SO_LINGER 0)',
    });
  }
}
