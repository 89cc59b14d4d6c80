import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { FLAG, KIND, OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { RstraceError } from '../../src/errors.js';
import { layoutFingerprint, MAX_OWNERS } from '../../src/tracefile/format.js';
import { decodeTraceBytes, readTraceFile, TraceReader } from '../../src/tracefile/reader.js';
import { TraceFileWriter } from '../../src/tracefile/writer.js';
import { settled, stormBatches, variedBatches, type Batch } from '../helpers/records.js';
import { FakeProc, headerInput, REASONS, writeBatches } from '../helpers/tracefile.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-tracefile-'));
const at = (name: string): string => join(dir, name);

function expectInputError(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RstraceError);
    expect((err as RstraceError).exitCode).toBe(2);
    expect((err as RstraceError).oneLine()).toMatch(message);
    expect((err as RstraceError).oneLine()).not.toContain('\n');
    return;
  }
  throw new Error('expected an RstraceError');
}

/** Top-level values of a file, with where each ends. */
function values(bytes: Uint8Array): { value: unknown; end: number }[] {
  const out: { value: unknown; end: number }[] = [];
  new Unpackr({ mapsAsObjects: false, useRecords: false }).unpackMultiple(bytes, (value, _s, end) => { out.push({ value, end: end ?? 0 }); });
  return out;
}

/** One record that needs /proc: a socket, no kernel-known owner, inode `ino`. */
function procRecord(ino: number, ts: number): Batch {
  const bytes = new Uint8Array(RECORD_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setBigUint64(OFFSETS.ts_ns, BigInt(ts), true);
  dv.setUint16(OFFSETS.family, 2, true);
  dv.setUint8(OFFSETS.kind, KIND.SENT);
  dv.setUint8(OFFSETS.state, 1);
  dv.setUint32(OFFSETS.reason, 5, true);
  dv.setUint16(OFFSETS.flags, FLAG.HAS_SK | FLAG.FULLSOCK | FLAG.HAS_REASON, true);
  dv.setBigUint64(OFFSETS.cookie, 99n, true);
  dv.setUint32(OFFSETS.ino, ino, true);
  return { bytes, records: 1 };
}

describe('trace file, format 2', () => {
  it('replays varied batches into exactly the events the live pipeline made (IPv4/IPv6, every kind, 20-digit cookies, odd names)', () => {
    const batches = variedBatches(3000, 42);
    const { path, live } = writeBatches(at('varied.rstrace'), batches);
    const file = readTraceFile(path);
    expect(file.damage).toBeNull();
    expect(file.events.length).toBe(live.length);
    expect(file.events).toEqual(live);
    expect(file.trailer).toMatchObject({ delivered: 3000, lost: 3, filtered: 4 });
    expect(file.header).toMatchObject({
      magic: 'rstrace', formatVersion: 2, host: 'testhost', kernel: '6.12.0-test', bootToWallNs: '1795000000123456789',
      recordSize: RECORD_SIZE, layout: layoutFingerprint(), filter: null, limit: null,
    });
    expect(file.header.names.sk_rst_reason).toEqual(REASONS);
    expect(file.header.options).toEqual({ port: '443', json: true, count: 10, codes: ['11', '16'] });
    for (const kind of ['sent', 'received', 'abort']) expect(live.some((e) => e.kind === kind)).toBe(true);
    expect(live.some((e) => e.family === 'ipv6') && live.some((e) => e.cookie?.length === 20)).toBe(true);
  });

  it('keeps batch boundaries: one value per batch, as many records as the addon delivered', () => {
    const batches = variedBatches(500, 7);
    const { path } = writeBatches(at('bounds.rstrace'), batches);
    const bs = values(readFileSync(path)).filter((v) => (v.value as unknown[])[0] === 'b');
    expect(bs.length).toBe(batches.length);
  });

  it('a phantom reset held across a batch boundary is dropped on replay exactly as live', () => {
    // received RST on an orphaned FIN_WAIT1 socket at the end of one batch, TCP_ABORT_ON_DATA for it at the start of the next
    const phantom = procRecord(0, 1e9);
    const dv1 = new DataView(phantom.bytes.buffer);
    dv1.setUint8(OFFSETS.kind, KIND.RECEIVED); dv1.setUint8(OFFSETS.state, 4);
    dv1.setUint16(OFFSETS.flags, FLAG.HAS_SK | FLAG.DEAD | FLAG.OWNER_KNOWN, true);
    const sent = procRecord(0, 1e9 + 10);
    const dv2 = new DataView(sent.bytes.buffer);
    dv2.setUint8(OFFSETS.state, 7); dv2.setUint32(OFFSETS.reason, 1, true); dv2.setUint8(OFFSETS.tcp_flags, 0x10);
    dv2.setUint16(OFFSETS.flags, FLAG.HAS_SK | FLAG.HAS_REASON | FLAG.OWNER_KNOWN, true);
    const { path, live } = writeBatches(at('phantom.rstrace'), [phantom, sent]);
    expect(live.map((e) => e.kind)).toEqual(['sent']);
    expect(readTraceFile(path).events).toEqual(live);
  });

  it('records /proc owners before the batch that needs them, only when new or changed, and attributes from them on replay', () => {
    const proc = new FakeProc();
    proc.owners.set(1001, { pid: 77, comm: 'old-daemon' });
    const batches = [procRecord(1001, 1e9), procRecord(1001, 2e9), procRecord(1002, 3e9), procRecord(1001, 4e9)];
    const { path, live } = writeBatches(at('proc.rstrace'), batches, {
      proc, beforeBatch: (i) => { if (i === 3) proc.owners.set(1001, { pid: 78, comm: 'new-daemon' }); },
    });
    const file = readTraceFile(path);
    expect(file.events).toEqual(live);
    expect(file.events.map((e) => [e.attribution, e.pid, e.comm])).toEqual([
      ['proc', 77, 'old-daemon'], ['proc', 77, 'old-daemon'], ['none', null, null], ['proc', 78, 'new-daemon'],
    ]);
    const tags = values(readFileSync(path)).slice(1).map((v) => v.value as unknown[]);
    expect(tags).toEqual([
      ['o', 1001, 77, 'old-daemon'], ['b', expect.anything()], ['b', expect.anything()], ['o', 1002, null, null],
      ['b', expect.anything()], ['o', 1001, 78, 'new-daemon'], ['b', expect.anything()], expect.arrayContaining(['end']),
    ]);
  });

  it('an owner table past its bound starts over in the file and on replay', () => {
    const proc = new FakeProc();
    const batches: Batch[] = [];
    for (let i = 0; i < MAX_OWNERS + 10; i++) {
      proc.owners.set(5000 + i, { pid: i + 1, comm: 'p' });
      batches.push(procRecord(5000 + i, 1e9 + i));
    }
    batches.push(procRecord(5000, 2e9)); // forgotten, then asked again
    const { path, live } = writeBatches(at('forget.rstrace'), batches, { proc });
    const file = readTraceFile(path);
    expect(file.events).toEqual(live);
    expect(file.events.at(-1)).toMatchObject({ attribution: 'proc', pid: 1 });
    expect(values(readFileSync(path)).some((v) => (v.value as unknown[])[0] === 'of')).toBe(true);
  });

  it('stores a 100k-event reset storm in under 10 bytes per event', () => {
    const { path, live } = writeBatches(at('storm.rstrace'), stormBatches(100_000));
    expect(statSync(path).size / 100_000).toBeLessThan(10);
    expect(readTraceFile(path).events).toEqual(live);
  });

  it('re-applies the live filter and --count from the header', () => {
    const batches = variedBatches(800, 3);
    const filter = { kinds: ['received' as const], codes: [0] };
    const { path, live } = writeBatches(at('filter.rstrace'), batches, { filter });
    const file = readTraceFile(path);
    expect(live.length).toBeGreaterThan(10);
    expect(live.every((e) => e.kind === 'received' && e.code === 0)).toBe(true);
    expect(file.header.filter).toEqual(filter);
    expect(file.events).toEqual(live);
    const limited = writeBatches(at('limit.rstrace'), batches, { header: { limit: 25 } });
    expect(readTraceFile(limited.path).events).toEqual(limited.live.slice(0, 25));
  });

  it('forEachEvent (reused event object) visits exactly the events of nextBatch, within --count too', () => {
    for (const [name, limit] of [['each.rstrace', null], ['each-limit.rstrace', 40]] as const) {
      const { path, live } = writeBatches(at(name), variedBatches(600, 13), { header: { limit } });
      const seen: unknown[] = [];
      const r = TraceReader.open(path);
      r.forEachEvent((e) => seen.push({ ...e }));
      r.close();
      expect(seen).toEqual(limit === null ? live : live.slice(0, limit));
      expect(r.eventCount).toBe(seen.length);
    }
  });

  it('creates the file with mode 0600', () => {
    expect(statSync(writeBatches(at('mode.rstrace'), []).path).mode & 0o777).toBe(0o600);
  });

  it('close() is idempotent and later batches are ignored', () => {
    const w = TraceFileWriter.open(at('idem.rstrace'), headerInput());
    const [b] = variedBatches(1, 1);
    w.writeBatch(b.bytes, b.records);
    w.close({ delivered: 1, lost: 0, filtered: 0 });
    w.close({ delivered: 9, lost: 9, filtered: 9 });
    w.writeBatch(b.bytes, b.records);
    const f = readTraceFile(at('idem.rstrace'));
    expect(f.events.length).toBe(1);
    expect(f.trailer?.delivered).toBe(1);
  });

  it('a trace without a trailer (killed) reads fine with trailer null and not truncated', () => {
    const { path, live } = writeBatches(at('notrailer.rstrace'), settled(variedBatches(20, 2)), { close: false });
    const f = readTraceFile(path);
    expect(f).toMatchObject({ trailer: null, truncated: false });
    expect(f.events).toEqual(live);
  });

  it('a file cut at every byte offset yields exactly the complete events before the cut', () => {
    const { path } = writeBatches(at('cut.rstrace'), settled(variedBatches(60, 5)));
    const bytes = readFileSync(path);
    const full = decodeTraceBytes(bytes);
    const ends = values(bytes).map((v) => v.end);
    let prev = -1;
    for (let cut = 1; cut < bytes.length; cut++) {
      let f;
      try {
        f = decodeTraceBytes(bytes.subarray(0, cut));
      } catch (err) {
        expect(err).toBeInstanceOf(RstraceError);
        expect((err as RstraceError).exitCode).toBe(2);
        expect(cut).toBeLessThan(ends[0]); // only a cut inside the header may fail
        continue;
      }
      expect(f.events).toEqual(full.events.slice(0, f.events.length));
      expect(f.events.length).toBeGreaterThanOrEqual(prev);
      prev = f.events.length;
      expect(f.truncated).toBe(!ends.includes(cut));
      if (f.truncated) expect(f.damage?.kind).toBe('cut');
    }
    expect(prev).toBe(full.events.length); // the last cut is inside the trailer
  });

  it('rejects a malformed value and keeps the events before it', () => {
    const { path, live } = writeBatches(at('good.rstrace'), settled(variedBatches(5, 1)), { close: false });
    const good = readFileSync(path);
    for (const [bad, detail] of [
      [pack(['b', 'not bytes']), /malformed 'b'/],
      [pack(['b', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]), /mask/],
      [pack(['o', 0, 1, 'x']), /owner/],
      [pack(['zz']), /malformed/],
      [pack(new Map([['__proto__', 1]])), /tagged array/],
      [pack(['end', -1, 0, 0, 'x']), /malformed 'end'/],
    ] as const) {
      const f = decodeTraceBytes(Buffer.concat([good, bad, pack(['b', Buffer.alloc(0)])]));
      expect(f.events).toEqual(live);
      expect(f.damage).toMatchObject({ kind: 'corrupt', offset: good.length });
      expect(f.damage?.detail).toMatch(detail);
    }
  });

  it('bad inputs are one-line RstraceErrors with exit code 2', () => {
    const header = (version: number, fields: unknown): Buffer => Buffer.from(pack(['rstrace', version, fields]));
    const ok = values(readFileSync(writeBatches(at('h.rstrace'), []).path))[0].value as unknown[];
    const m = ok[2] as Map<string, unknown>;
    expectInputError(() => readTraceFile(at('missing.rstrace')), /no such file/);
    mkdirSync(at('adir'));
    expectInputError(() => readTraceFile(at('adir')), /is a directory/);
    writeFileSync(at('empty.rstrace'), '');
    expectInputError(() => readTraceFile(at('empty.rstrace')), /is empty/);
    writeFileSync(at('garbage.rstrace'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expectInputError(() => readTraceFile(at('garbage.rstrace')), /not an rstrace trace file/);
    writeFileSync(at('magic.rstrace'), pack(['rstracf', 2, m]));
    expectInputError(() => readTraceFile(at('magic.rstrace')), /not an rstrace trace file/);
    writeFileSync(at('v1.rstrace'), pack(['rstrace', 1, 'h', 'k', '0', 's', {}]));
    expectInputError(() => readTraceFile(at('v1.rstrace')), /format version 1, this rstrace reads version 2.*rstrace release that wrote it/);
    writeFileSync(at('v3.rstrace'), header(3, m));
    expectInputError(() => readTraceFile(at('v3.rstrace')), /format version 3, this rstrace reads version 2/);
    writeFileSync(at('layout.rstrace'), header(2, new Map([...m, ['layout', '160-00000000'], ['recordSize', 160]])));
    expectInputError(() => readTraceFile(at('layout.rstrace')), new RegExp(`records have layout 160-00000000 \\(160 bytes\\), this rstrace reads layout ${RECORD_SIZE}-`));
    writeFileSync(at('hdr.rstrace'), header(2, new Map([...m, ['bootToWallNs', 'notanumber']])));
    expectInputError(() => readTraceFile(at('hdr.rstrace')), /damaged header/);
    writeFileSync(at('names.rstrace'), header(2, new Map([...m, ['names', new Map()]])));
    expectInputError(() => readTraceFile(at('names.rstrace')), /damaged header \(no sk_rst_reason/);
    writeFileSync(at('cuthdr.rstrace'), header(2, m).subarray(0, 30));
    expectInputError(() => readTraceFile(at('cuthdr.rstrace')), /ends inside its header/);
  });

  it('a __proto__ option in the header is refused, and pollutes nothing', () => {
    const ok = values(readFileSync(writeBatches(at('p.rstrace'), []).path))[0].value as unknown[];
    const m = ok[2] as Map<string, unknown>;
    const bad = Buffer.from(pack(['rstrace', 2, new Map([...m, ['options', new Map<string, unknown>([['__proto__', 'x'], ['constructor', 'y']])]])]));
    expectInputError(() => decodeTraceBytes(bad), /damaged header/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const f = decodeTraceBytes(Buffer.from(pack(['rstrace', 2, new Map([...m, ['options', new Map([['constructor', 'y']])]])])));
    expect(Object.getPrototypeOf(f.header.options)).toBe(Object.prototype);
    expect(f.header.options.constructor).toBe('y');
  });

  it('reads a file larger than one read chunk (values straddle chunk boundaries)', () => {
    const { path, live } = writeBatches(at('big.rstrace'), variedBatches(12_000, 3));
    expect(statSync(path).size).toBeGreaterThan(1 << 19);
    const f = readTraceFile(path);
    expect(f.damage).toBeNull();
    expect(f.events).toEqual(live);
  });
});
