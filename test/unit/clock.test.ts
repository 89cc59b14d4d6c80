import { describe, expect, it } from 'vitest';
import { displayTime, formatEpochNs, formatIsoMs, formatIsoNs, isoToMs, IsoMsParser, timeOfDay, WallClock } from '../../src/enrich/clock.js';

describe('wall-clock time has one home', () => {
  it('formatEpochNs writes nanoseconds exactly, before 1970 too', () => {
    expect(formatEpochNs(1795158000123456789n)).toBe('2026-11-20T07:00:00.123456789Z');
    expect(formatEpochNs(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(formatEpochNs(-1n)).toBe('1969-12-31T23:59:59.999999999Z');
  });

  it('the live clock and formatEpochNs agree, across a second boundary', () => {
    const clock = new WallClock(1795158000_999999999n);
    expect(clock.iso(0, 1)).toBe(formatEpochNs(1795158001_000000000n));
    expect(clock.iso(12, 5)).toBe(formatEpochNs(1795158012_999999999n + 5n));
    expect(formatIsoNs(1795158000, 7)).toBe('2026-11-20T07:00:00.000000007Z');
  });

  it('display forms: table time of day, report time, ms ISO', () => {
    const t = '2026-11-26T07:21:07.512345678Z';
    expect(timeOfDay(t)).toBe('07:21:07.512345');
    expect(displayTime(t)).toBe('2026-11-26 07:21:07.512');
    expect(displayTime('2026-11-26T07:00:00Z')).toBe('2026-11-26 07:00:00');
    expect(formatIsoMs(Date.UTC(2026, 10, 26, 7))).toBe('2026-11-26T07:00:00.000Z');
  });

  it('parsing: nanosecond ISO to ms, the cached parser equal to the plain one', () => {
    const p = new IsoMsParser();
    for (const t of ['2026-11-26T07:21:07.512345678Z', '2026-11-26T07:21:07.999999999Z', '2026-11-26T07:21:08.000000001Z', '2026-11-26T07:00:00.123Z', 'garbage']) {
      const want = isoToMs(t);
      if (Number.isNaN(want)) expect(p.parse(t)).toBeNaN();
      else expect(p.parse(t)).toBe(want);
    }
    expect(isoToMs('2026-11-26T07:21:07.512345678Z')).toBe(Date.UTC(2026, 10, 26, 7, 21, 7, 512));
  });
});
