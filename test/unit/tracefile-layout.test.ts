/**
 * Drop reason numbers drift between kernels: a trace file carries the writing
 * kernel's skb_drop_reason names, and an ignored RST read elsewhere is named
 * by them, not by the reading kernel's BTF. And the record coding's worst
 * case fits the room the writer reserves for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AF_INET, FLAG, HOOK, KIND, OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { TCP_STATE } from '../../src/kernel/names.js';
import { readTraceFile } from '../../src/tracefile/reader.js';
import { KIND_OFFSET, RECORD_WORDS } from '../../src/tracefile/format.js';
import { MAX_CODED_RECORD, RecordRefs, decodeRecords, encodeRecords } from '../../src/tracefile/records.js';
import { REASONS, writeBatches } from '../helpers/tracefile.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-drop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One ignored RST on an established socket, with drop reason `reason`. */
function ignoredRecord(reason: number): Uint8Array {
  const buf = new Uint8Array(RECORD_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(OFFSETS.ts_ns, 7_000_000_000n, true);
  dv.setBigUint64(OFFSETS.cookie, 42n, true);
  dv.setUint16(OFFSETS.family, AF_INET, true);
  buf.set([10, 0, 0, 1], OFFSETS.laddr);
  buf.set([10, 0, 0, 2], OFFSETS.raddr);
  dv.setUint16(OFFSETS.lport, 8080, true);
  dv.setUint16(OFFSETS.rport, 40000, true);
  dv.setUint32(OFFSETS.reason, reason, true);
  dv.setUint8(OFFSETS.kind, KIND.IGNORED);
  dv.setUint8(OFFSETS.hook, HOOK.KFREE_SKB);
  dv.setUint8(OFFSETS.state, TCP_STATE.ESTABLISHED);
  dv.setUint8(OFFSETS.tcp_flags, 0x04);
  dv.setUint16(OFFSETS.flags, FLAG.HAS_SK | FLAG.DROP_REASON, true);
  return buf;
}

describe('trace file: skb_drop_reason names', () => {
  it('an ignored RST is named by the drop reason table of the kernel that wrote the file', () => {
    const path = join(dir, 'a.rstrace');
    writeBatches(path, [{ bytes: ignoredRecord(4242), records: 1 }], {
      header: { names: { sk_rst_reason: REASONS, skb_drop_reason: [[4242, 'TCP_WRITERS_NAME']] } },
    });
    const [e] = readTraceFile(path).events;
    expect(e.kind).toBe('ignored');
    expect(e.code).toBe(19);
    expect(e.reason).toBe('TCP_WRITERS_NAME');
  });

  it('a file without the table (written before ignored RSTs) still reads, naming by this kernel', () => {
    const path = join(dir, 'b.rstrace');
    writeBatches(path, [{ bytes: ignoredRecord(4243), records: 1 }]);
    const [e] = readTraceFile(path).events;
    expect(e.kind).toBe('ignored');
    expect(e.reason).toBe('UNKNOWN_4243');
  });
});

describe('record coding: the worst case', () => {
  it('a record that changes every word by the widest difference fits MAX_CODED_RECORD and decodes back', () => {
    const words = new Uint32Array(RECORD_WORDS);
    for (let w = 0; w < RECORD_WORDS; w++) words[w] = 0x80000000; // zigzag 0xffffffff: 5 varint bytes each
    words[KIND_OFFSET >> 2] = (words[KIND_OFFSET >> 2] & ~(0xff << ((KIND_OFFSET & 3) * 8))) >>> 0; // slot 0
    const out = new Uint8Array(MAX_CODED_RECORD);
    const end = encodeRecords(new RecordRefs(), words, 1, out, 0);
    expect(end).toBe(MAX_CODED_RECORD);
    const back = new Uint32Array(RECORD_WORDS);
    expect(decodeRecords(new RecordRefs(), out.subarray(0, end), back, 1)).toBe(1);
    expect([...back]).toEqual([...words]);
  });
});
