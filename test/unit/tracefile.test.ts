import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS } from '../../src/event.js';
import { RstraceError } from '../../src/errors.js';
import {
  decodeTraceBytes, FIELDS, formatTime, parseTime, readTraceFile, TraceFileWriter, type TraceHeaderInput,
} from '../../src/sinks/tracefile.js';
import { sampleEvent, stormEventStream, variedEvents } from '../helpers/sample-events.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-tracefile-'));
const header: TraceHeaderInput = {
  host: 'testhost', kernel: '6.12.0-test', bootToWallNs: '1795000000123456789', startTime: '2026-11-26T07:00:00.000Z',
  options: { port: '443', json: true, count: 10, codes: ['11', '16'], nothing: undefined },
};

function writeTrace(name: string, events: Iterable<import('../../src/event.js').ResetEvent>, close = true): string {
  const path = join(dir, name);
  const w = TraceFileWriter.open(path, header);
  let n = 0;
  for (const e of events) { w.write(e); n++; }
  if (close) w.close({ delivered: n, lost: 3, filtered: 4 });
  else w.flush();
  return path;
}

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

describe('trace file', () => {
  it('field table covers every field of the JSON contract except time, once', () => {
    expect(FIELDS.map((f) => f.name).sort()).toEqual(EVENT_FIELDS.filter((f) => f !== 'time').sort());
  });

  it('formatTime and parseTime round-trip nanoseconds exactly', () => {
    expect(formatTime(1795158000123456789n)).toBe('2026-11-20T07:00:00.123456789Z');
    expect(formatTime(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(parseTime('2026-11-20T07:00:00.123456789Z')).toBe(1795158000123456789n);
    expect(parseTime('2026-02-30T07:00:00.123456789Z')).toBeNull();
    expect(parseTime('2026-11-20T07:00:00.123Z')).toBeNull();
  });

  it('round-trips varied events (IPv4/IPv6, nulls, 20-digit cookies, odd strings and times) deep-equal', () => {
    const events = variedEvents(3000, 42);
    const file = readTraceFile(writeTrace('varied.rstrace', events));
    expect(file.truncated).toBe(false);
    expect(file.damage).toBeNull();
    expect(file.events).toEqual(events);
    expect(file.trailer).toMatchObject({ delivered: 3000, lost: 3, filtered: 4 });
    expect(file.header).toMatchObject({ magic: 'rstrace', formatVersion: 1, host: 'testhost', kernel: '6.12.0-test', bootToWallNs: '1795000000123456789' });
    expect(file.header.options).toEqual({ port: '443', json: true, count: 10, codes: ['11', '16'] });
    for (const kind of ['sent', 'received', 'abort']) expect(events.some((e) => e.kind === kind)).toBe(true);
    expect(events.some((e) => e.family === 'ipv6') && events.some((e) => e.cookie && e.cookie.length === 20)).toBe(true);
  });

  it('round-trips an event with every nullable field null', () => {
    const e = sampleEvent({ reason: null, state: null, pid: null, tid: null, comm: null, attribution: 'none', cgroupId: null, netns: null, unread: null, unsent: null, cookie: null });
    expect(readTraceFile(writeTrace('nulls.rstrace', [e, e, sampleEvent()])).events).toEqual([e, e, sampleEvent()]);
  });

  it('round-trips past a string-table restart (more than 65536 distinct strings)', () => {
    const events = Array.from({ length: 70_000 }, (_, i) => sampleEvent({ comm: `p${i}`, explanation: `x${i}` }));
    const file = readTraceFile(writeTrace('table.rstrace', events));
    expect(file.events.length).toBe(70_000);
    expect(file.events[69_999]).toEqual(events[69_999]);
    expect(file.events[40_000]).toEqual(events[40_000]);
  });

  it('stores a 100k-event reset storm in under 40 bytes per event', () => {
    const path = writeTrace('storm.rstrace', stormEventStream(100_000));
    const perEvent = statSync(path).size / 100_000;
    expect(perEvent).toBeLessThan(40);
    expect(readTraceFile(path).events.length).toBe(100_000);
  });

  it('creates the file with mode 0600', () => {
    expect(statSync(writeTrace('mode.rstrace', [])).mode & 0o777).toBe(0o600);
  });

  it('close() is idempotent and later writes are ignored', () => {
    const path = join(dir, 'idem.rstrace');
    const w = TraceFileWriter.open(path, header);
    w.write(sampleEvent());
    w.close({ delivered: 1, lost: 0, filtered: 0 });
    w.close({ delivered: 9, lost: 9, filtered: 9 });
    w.write(sampleEvent());
    const f = readTraceFile(path);
    expect(f.events.length).toBe(1);
    expect(f.trailer?.delivered).toBe(1);
  });

  it('a trace without a trailer (killed) reads fine with trailer null and not truncated', () => {
    const f = readTraceFile(writeTrace('notrailer.rstrace', [sampleEvent(), sampleEvent()], false));
    expect(f).toMatchObject({ trailer: null, truncated: false });
    expect(f.events.length).toBe(2);
  });

  it('a file cut at every byte offset yields exactly the complete events before the cut', () => {
    const events = variedEvents(40, 5);
    const bytes = readFileSync(writeTrace('cut.rstrace', events));
    const full = decodeTraceBytes(bytes);
    // the offset where each record ends: find by decoding growing prefixes
    let headerEnd = -1;
    let prev = -1;
    for (let cut = 1; cut < bytes.length; cut++) {
      let f;
      try {
        f = decodeTraceBytes(bytes.subarray(0, cut));
      } catch (err) {
        expect(err).toBeInstanceOf(RstraceError);
        expect((err as RstraceError).exitCode).toBe(2);
        expect(headerEnd).toBe(-1); // only a cut inside the header may fail
        continue;
      }
      if (headerEnd < 0) headerEnd = cut;
      expect(f.events).toEqual(full.events.slice(0, f.events.length));
      expect(f.events.length).toBeGreaterThanOrEqual(prev);
      prev = f.events.length;
      if (f.truncated) expect(f.damage?.kind).toBe('cut');
    }
    expect(prev).toBe(events.length); // the last cut is inside the trailer
    expect(decodeTraceBytes(bytes.subarray(0, bytes.length - 1)).truncated).toBe(true);
  });

  it('rejects an event whose field has the wrong type and keeps the events before it', () => {
    const good = readFileSync(writeTrace('good.rstrace', [sampleEvent()], false));
    // [delta, mask=1 (lport), "not a port"]
    const bad = Buffer.concat([good, pack([5, 1, 'not a port']), pack([5, 1, 80])]);
    const f = decodeTraceBytes(bad);
    expect(f.events.length).toBe(1);
    expect(f.truncated).toBe(true);
    expect(f.damage).toMatchObject({ kind: 'corrupt', eventsBefore: 1, offset: good.length });
    expect(f.damage?.detail).toMatch(/lport/);
  });

  it('rejects an unknown kind, an out-of-range string index and a map record', () => {
    const good = readFileSync(writeTrace('good2.rstrace', [sampleEvent()], false));
    const kindBit = FIELDS.findIndex((x) => x.name === 'kind');
    for (const record of [pack([5, 1 << kindBit, 'exploded']), pack([5, 1 << kindBit, 9999]), pack(new Map([['__proto__', 1]]))]) {
      const f = decodeTraceBytes(Buffer.concat([good, record]));
      expect(f.events.length).toBe(1);
      expect(f.damage?.kind).toBe('corrupt');
    }
  });

  it('bad inputs are one-line RstraceErrors with exit code 2', () => {
    expectInputError(() => readTraceFile(join(dir, 'missing.rstrace')), /no such file/);
    mkdirSync(join(dir, 'adir'));
    expectInputError(() => readTraceFile(join(dir, 'adir')), /is a directory/);
    writeFileSync(join(dir, 'empty.rstrace'), '');
    expectInputError(() => readTraceFile(join(dir, 'empty.rstrace')), /is empty/);
    writeFileSync(join(dir, 'garbage.rstrace'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expectInputError(() => readTraceFile(join(dir, 'garbage.rstrace')), /not an rstrace trace file/);
    writeFileSync(join(dir, 'magic.rstrace'), pack(['rstracf', 1, 'h', 'k', '0', 's', {}]));
    expectInputError(() => readTraceFile(join(dir, 'magic.rstrace')), /not an rstrace trace file/);
    writeFileSync(join(dir, 'v2.rstrace'), pack(['rstrace', 2, 'h', 'k', '0', 's', {}]));
    expectInputError(() => readTraceFile(join(dir, 'v2.rstrace')), /format version 2, this rstrace reads version 1/);
    writeFileSync(join(dir, 'header.rstrace'), pack(['rstrace', 1, 'h', 'k', 'notanumber', 's', {}]));
    expectInputError(() => readTraceFile(join(dir, 'header.rstrace')), /damaged header/);
    writeFileSync(join(dir, 'cuthdr.rstrace'), pack(['rstrace', 1, 'host', 'k', '0', 's', {}]).subarray(0, 14));
    expectInputError(() => readTraceFile(join(dir, 'cuthdr.rstrace')), /ends inside its header/);
  });

  it('a __proto__ option in the header is refused, and pollutes nothing', () => {
    const options = new Map<string, unknown>([['__proto__', 'x'], ['constructor', 'y']]);
    const bytes = Buffer.from(pack(['rstrace', 1, 'h', 'k', '0', 's', options]));
    expectInputError(() => decodeTraceBytes(bytes), /damaged header/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const ok = decodeTraceBytes(Buffer.from(pack(['rstrace', 1, 'h', 'k', '0', 's', new Map([['constructor', 'y']])])));
    expect(Object.getPrototypeOf(ok.header.options)).toBe(Object.prototype);
    expect(ok.header.options.constructor).toBe('y');
  });

  it('reads a file larger than one read chunk (records straddle chunk boundaries)', () => {
    const path = writeTrace('big.rstrace', stormEventStream(60_000, { seed: 3 }));
    expect(statSync(path).size).toBeGreaterThan(1 << 20);
    const f = readTraceFile(path);
    expect(f.damage).toBeNull();
    expect(f.events).toEqual([...stormEventStream(60_000, { seed: 3 })]);
  });
});

describe('extractFields', () => {
  it('reads every field in FIELDS order', async () => {
    const { FIELDS, extractFields } = await import('../../src/sinks/tracefile.js');
    const e = sampleEvent();
    const out: unknown[] = [];
    extractFields(e, out);
    expect(out).toEqual(FIELDS.map((f) => e[f.name]));
    expect(new Set(FIELDS.map((f) => f.name)).size).toBe(FIELDS.length);
  });
});
