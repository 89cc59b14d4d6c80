import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KIND, OFFSETS, RECORD_SIZE, decodeBatch } from '../../src/decode.js';
import { CauseOrder } from '../../src/reorder.js';
import { Pipeline } from '../../src/pipeline.js';
import { WallClock } from '../../src/enrich/clock.js';
import { ProcIndex } from '../../src/enrich/proc.js';
import { stormBatches } from '../helpers/records.js';

/**
 * Recorded on this kernel (Linux 6.18) from loopback by the addon with a port filter: a client
 * closing with SO_LINGER {1,0} (the server's `received` came first, then the client's `sent`
 * TCP_STATE), then a refused connect (`sent` NO_SOCKET, then `received`, already in order).
 */
const RECORDED = Uint8Array.from(Buffer.from(
  readFileSync(new URL('../fixtures/loopback-abort-and-refused.hex', import.meta.url), 'utf8').replace(/\s+/g, ''), 'hex'));

const kinds = (b: Uint8Array): number[] => decodeBatch(b, b.length / RECORD_SIZE).map((r) => r.kind);
const record = (b: Uint8Array, i: number): Uint8Array => b.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE);
const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
function withPorts(rec: Uint8Array, lport: number, rport: number): Uint8Array {
  const r = Uint8Array.from(rec);
  const dv = new DataView(r.buffer);
  dv.setUint16(OFFSETS.lport, lport, true);
  dv.setUint16(OFFSETS.rport, rport, true);
  return r;
}

describe('cause before effect within a batch', () => {
  it('the recorded loopback abort: the sent RST moves before the peer\'s received one; the refused pair stays', () => {
    const batch = Uint8Array.from(RECORDED);
    expect(kinds(batch)).toEqual([KIND.RECEIVED, KIND.SENT, KIND.SENT, KIND.RECEIVED]);
    const order = new CauseOrder();
    expect(order.apply(batch, 4)).toBe(1);
    expect(kinds(batch)).toEqual([KIND.SENT, KIND.RECEIVED, KIND.SENT, KIND.RECEIVED]);
    // the same records, only moved
    expect(record(batch, 0)).toEqual(record(RECORDED, 1));
    expect(record(batch, 1)).toEqual(record(RECORDED, 0));
    expect(batch.subarray(2 * RECORD_SIZE)).toEqual(RECORDED.subarray(2 * RECORD_SIZE));

    const pipeline = new Pipeline({ clock: new WallClock(0n), proc: new ProcIndex('/nonexistent'), reasons: new Map([[1, 'NO_SOCKET'], [14, 'TCP_STATE']]) });
    const events = pipeline.processBatch(batch, 4);
    expect(events.map((e) => `${e.kind} ${e.code}`)).toEqual(['sent 6', 'received 0', 'sent 11', 'received 0']);
  });

  it('an effect goes after the first later sent record with its reversed tuple; the rest keep their order', () => {
    const recv = record(RECORDED, 0); // 127.0.0.1:A <- B
    const sent = record(RECORDED, 1); // B -> A
    const [a, b] = [new DataView(recv.buffer, recv.byteOffset).getUint16(OFFSETS.lport, true), new DataView(recv.buffer, recv.byteOffset).getUint16(OFFSETS.rport, true)];
    const other = withPorts(sent, 1111, 2222); // a sent RST of another connection
    const recv2 = withPorts(recv, 3333, 4444); // an effect whose cause is in no batch here
    const batch = concat([recv, other, recv2, sent, sent, other]);
    const before = Uint8Array.from(batch);
    expect(new CauseOrder().apply(batch, 6)).toBe(1);
    const ports = decodeBatch(batch, 6).map((r) => `${r.kind}:${r.lport}`);
    expect(ports).toEqual([`1:1111`, `2:3333`, `1:${b}`, `2:${a}`, `1:${b}`, `1:1111`]);
    // nothing lost or duplicated
    const sorted = (u: Uint8Array): string[] => Array.from({ length: 6 }, (_, i) => Buffer.from(record(u, i)).toString('hex')).sort();
    expect(sorted(batch)).toEqual(sorted(before));
  });

  it('an effect whose cause is just before it stays, even when the same tuple is reset again later in the batch', () => {
    const recv = record(RECORDED, 0);
    const sent = record(RECORDED, 1);
    const other = withPorts(sent, 1111, 2222);
    const batch = concat([sent, other, recv, sent]);
    expect(new CauseOrder().apply(batch, 4)).toBe(0);
    // too far back to count as its cause: the later sent record is
    const far = concat([sent, other, other, other, other, recv, sent]);
    expect(new CauseOrder().apply(far, 7)).toBe(1);
    expect(decodeBatch(far, 7).map((r) => r.kind)).toEqual([KIND.SENT, KIND.SENT, KIND.SENT, KIND.SENT, KIND.SENT, KIND.SENT, KIND.RECEIVED]);
  });

  it('a batch with nothing to reorder is left byte for byte as it was', () => {
    const order = new CauseOrder();
    for (const b of stormBatches(20_000, 4096)) {
      const copy = Uint8Array.from(b.bytes);
      expect(order.apply(b.bytes, b.records)).toBe(0);
      expect(Buffer.compare(b.bytes, copy)).toBe(0);
    }
    const effectsOnly = concat([record(RECORDED, 0), record(RECORDED, 3)]);
    expect(new CauseOrder().apply(effectsOnly, 2)).toBe(0);
    expect(order.moved).toBe(0);
  });

  it('addresses are compared whole: a tuple differing in one address byte is no match', () => {
    const recv = Uint8Array.from(record(RECORDED, 0));
    const sent = Uint8Array.from(record(RECORDED, 1));
    sent[OFFSETS.laddr + 1] ^= 0xff; // no longer the effect's raddr
    const batch = concat([recv, sent]);
    expect(new CauseOrder().apply(batch, 2)).toBe(0);
  });
});
