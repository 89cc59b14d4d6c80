/**
 * The live path's fast ways through the pipeline give what the array path
 * gives: eachEvent() the same events, countBatch() the same counts, the batch
 * queue every batch once, in order, pausing the tracer while it is full.
 */
import { describe, expect, it } from 'vitest';
import { FLAG, KIND, OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { WallClock } from '../../src/enrich/clock.js';
import { ProcIndex } from '../../src/enrich/proc.js';
import { Pipeline, type ResetCounter } from '../../src/pipeline.js';
import { BatchQueue, FlowGate, QUEUE_LIMIT } from '../../src/batch-queue.js';
import { KIND_NUMBER as kindNumber, TCP_STATE } from '../../src/kernel/names.js';
import type { ResetEvent } from '../../src/event.js';

const reasons = new Map([[1, 'NO_SOCKET'], [8, 'TCP_ABORT_ON_DATA'], [11, 'TCP_ABORT_ON_CLOSE']]);
const pipeline = (keep?: (e: ResetEvent) => boolean) =>
  new Pipeline({ clock: new WallClock(1_790_000_000_000_000_000n), proc: new ProcIndex('/nonexistent'), reasons, keep });

interface Rec { kind: number; state?: number; reason?: number; flags: number; cookie?: number; unread?: number; comm?: string; pid?: number; tcpFlags?: number }

function batch(recs: Rec[]): Uint8Array {
  const buf = new Uint8Array(recs.length * RECORD_SIZE);
  const dv = new DataView(buf.buffer);
  recs.forEach((r, i) => {
    const o = i * RECORD_SIZE;
    dv.setUint32(o + OFFSETS.ts_ns, 1000 + i, true);
    dv.setUint16(o + OFFSETS.family, 2, true);
    buf.set([127, 0, 0, 1], o + OFFSETS.laddr);
    buf.set([127, 0, 0, 1], o + OFFSETS.raddr);
    dv.setUint8(o + OFFSETS.kind, r.kind);
    dv.setUint8(o + OFFSETS.state, r.state ?? 0);
    dv.setUint32(o + OFFSETS.reason, r.reason ?? 0xffffffff, true);
    dv.setUint16(o + OFFSETS.flags, r.flags, true);
    dv.setUint32(o + OFFSETS.cookie, r.cookie ?? 0, true);
    dv.setUint32(o + OFFSETS.unread, r.unread ?? 0, true);
    dv.setUint8(o + OFFSETS.tcp_flags, r.tcpFlags ?? 0);
    if (r.comm) {
      buf.set(new TextEncoder().encode(r.comm), o + OFFSETS.owner_comm);
      dv.setUint32(o + OFFSETS.owner_pid, r.pid ?? 1, true);
    }
  });
  return buf;
}

const SOCK = FLAG.HAS_SK | FLAG.FULLSOCK;
const synToClosedPort: Rec = { kind: KIND.SENT, reason: 1, flags: FLAG.HAS_REASON, tcpFlags: 0x02 };
const refused = (comm: string): Rec => ({ kind: KIND.RECEIVED, state: TCP_STATE.SYN_SENT, flags: SOCK | FLAG.OWNER_KNOWN, cookie: 5, comm });
const closedWithData: Rec = { kind: KIND.SENT, reason: 11, state: TCP_STATE.CLOSE, flags: SOCK | FLAG.HAS_REASON | FLAG.OWNER_KNOWN, cookie: 6, unread: 10, comm: 'srv' };
const phantom: Rec = { kind: KIND.RECEIVED, state: TCP_STATE.FIN_WAIT2, flags: SOCK | FLAG.DEAD | FLAG.OWNER_KNOWN, cookie: 9, comm: 'srv' };
const abortOnData: Rec = { kind: KIND.SENT, reason: 8, state: TCP_STATE.CLOSE, flags: SOCK | FLAG.DEAD | FLAG.HAS_REASON | FLAG.OWNER_KNOWN, cookie: 9, comm: 'srv' };
const realOnOrphan: Rec = { ...phantom, cookie: 10 };

const batches = [
  batch([synToClosedPort, refused('a'), phantom, closedWithData]),
  batch([realOnOrphan, refused('b'), abortOnData, synToClosedPort]),
  batch([refused('a')]),
  batch([synToClosedPort]),
];

class Tally implements ResetCounter {
  readonly counts = new Map<string, number>();
  count(kind: number, code: number, comm: string | null): void {
    const k = `${kind}/${code}/${comm}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
}


describe('the live path', () => {
  it('eachEvent() passes, in order, exactly the events processBatch() returns, phantoms dropped and held ones released in place', () => {
    const a = pipeline();
    const b = pipeline();
    for (const bytes of batches) {
      const streamed: ResetEvent[] = [];
      b.eachEvent(bytes, bytes.byteLength / RECORD_SIZE, (e) => streamed.push({ ...e }));
      expect(streamed).toEqual(a.processBatch(bytes, bytes.byteLength / RECORD_SIZE));
    }
    expect(b.flush()).toEqual(a.flush());
  });

  it('countBatch() counts what the events say, by kind, code and comm, without the phantom', () => {
    const events = pipeline();
    const expected = new Tally();
    const counted = new Tally();
    const p = pipeline();
    let n = 0;
    for (const bytes of batches) {
      for (const e of events.processBatch(bytes, bytes.byteLength / RECORD_SIZE)) expected.count(kindNumber[e.kind], e.code, e.comm);
      n += p.countBatch(bytes, bytes.byteLength / RECORD_SIZE, counted);
    }
    for (const e of events.flush()) expected.count(kindNumber[e.kind], e.code, e.comm);
    expect(n).toBe(9);
    expect([...counted.counts].sort()).toEqual([...expected.counts].sort());
    expect(counted.counts.get(`${KIND.RECEIVED}/0/srv`)).toBe(1); // the real RST on an orphan, not the phantom
    expect(counted.counts.get(`${KIND.SENT}/16/srv`)).toBe(1);
  });

  it('countBatch() with a user-space filter counts only what passes it, and counts the rest as filtered', () => {
    const p = pipeline((e) => e.code !== 11);
    const t = new Tally();
    const bytes = batches[0];
    expect(p.countBatch(bytes, 4, t)).toBe(2);
    expect(p.filtered).toBe(1);
    expect([...t.counts.keys()].sort()).toEqual([`${KIND.RECEIVED}/0/a`, `${KIND.SENT}/16/srv`].sort());
  });
});

describe('the batch queue', () => {
  it('works off every batch once, in order, one per turn, pausing the tracer while it is full', async () => {
    const flow: string[] = [];
    const gate = new FlowGate({ pause: () => flow.push('pause'), resume: () => flow.push('resume') });
    const seen: number[] = [];
    const q = new BatchQueue(gate, (b, records) => seen.push(b[0] * 1000 + records));
    for (let i = 0; i < QUEUE_LIMIT + 2; i++) q.push(Buffer.from([i, 1, 2]), i);
    expect(seen).toEqual([]);
    expect(flow).toEqual(['pause']);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([0]);
    for (let i = 0; i < QUEUE_LIMIT + 2; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([...Array(QUEUE_LIMIT + 2).keys()].map((i) => i * 1000 + i));
    expect(flow).toEqual(['pause', 'resume']);
  });

  it('copies each batch, so the addon\'s buffer may be released as soon as the callback returns', () => {
    const gate = new FlowGate({ pause: () => {}, resume: () => {} });
    const seen: number[][] = [];
    const q = new BatchQueue(gate, (b) => seen.push([...b]));
    const original = Buffer.from([7, 8, 9]);
    q.push(original, 1);
    original.fill(0);
    q.drain();
    expect(seen).toEqual([[7, 8, 9]]);
  });

  it('keeps the tracer paused while another holder (a full stdout) still wants it paused', () => {
    const flow: string[] = [];
    const gate = new FlowGate({ pause: () => flow.push('pause'), resume: () => flow.push('resume') });
    const stdout = gate.as('stdout');
    stdout.pause();
    gate.hold('queue');
    stdout.resume();
    expect(flow).toEqual(['pause']);
    gate.release('queue');
    expect(flow).toEqual(['pause', 'resume']);
  });
});
