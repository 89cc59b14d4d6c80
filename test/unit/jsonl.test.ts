import { describe, expect, it } from 'vitest';
import { JsonLinesBuffer, toJsonLine } from '../../src/sinks/jsonl.js';
import { EVENT_FIELDS, type ResetEvent } from '../../src/event.js';
import { sampleEvent, stormEvents, variedEvents } from '../helpers/sample-events.js';

/** The reference: an object in contract order through JSON.stringify. */
function reference(e: ResetEvent): string {
  const o: Record<string, unknown> = {};
  for (const f of EVENT_FIELDS) o[f] = e[f] ?? null;
  return JSON.stringify(o);
}

describe('toJsonLine', () => {
  it('equals JSON.stringify of the contract fields in order, for hostile strings too', () => {
    const hostile = ['a"b', 'back\\slash', 'line\nbreak', 'esc\u001b[2J', 'ünïcødé', '\u2028', '', 'x'.repeat(300)];
    for (const comm of hostile) {
      const e = sampleEvent({ comm, explanation: `why ${comm}`, actorComm: comm });
      expect(toJsonLine(e)).toBe(reference(e));
      expect(JSON.parse(toJsonLine(e)).comm).toBe(comm);
    }
  });

  it('writes every field, null where unknown, in order', () => {
    const e = sampleEvent({ pid: null, tid: null, comm: null, cookie: null, reason: null, state: null });
    const parsed = JSON.parse(toJsonLine(e)) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([...EVENT_FIELDS]);
    expect(parsed.pid).toBeNull();
    expect(parsed.cookie).toBeNull();
  });

  it('keeps a time or cookie that is not plain ASCII valid JSON', () => {
    const e = sampleEvent({ time: 'not "plain"', cookie: '12"3' });
    expect(toJsonLine(e)).toBe(reference(e));
  });
});

describe('JsonLinesBuffer', () => {
  /** Events meant to break a byte encoder: every escape, non-ASCII, lone surrogates, odd numbers, long strings. */
  const odd: ResetEvent[] = [
    sampleEvent({ comm: 'a"b\\c\n\r\t\b\f\u0000\u0001\u001f\u007f', explanation: 'ünïcødé ✓ 😀 \u2028\u2029' }),
    sampleEvent({ comm: '\ud800', actorComm: 'x\udfffy', explanation: '\udbff\udfff', raddr: 'é' }),
    sampleEvent({ time: 'tïme', cookie: '12"3\\' }),
    sampleEvent({ cookie: '18446744073709551615', netns: 2 ** 64, cgroupId: Number.MAX_SAFE_INTEGER, pid: 2 ** 53 + 2, tid: 1e21 }),
    sampleEvent({ unread: -0, unsent: -5, probes: 1.5, lport: 0, rport: 65535, actorPid: 0.1 }),
    sampleEvent({ unread: NaN, unsent: Infinity, probes: -Infinity, pid: undefined as unknown as null, comm: undefined as unknown as null }),
    sampleEvent({ explanation: 'é'.repeat(3000), time: 'x'.repeat(5000) }),
    sampleEvent({ cookie: '9'.repeat(2049), comm: 'c'.repeat(2047) + '"' }),
    sampleEvent({ pid: null, tid: null, comm: null, cookie: null, reason: null, state: null, cgroupId: null, netns: null }),
  ];

  it('writes, byte for byte, JSON.stringify of the contract fields in order and a newline, for every event', () => {
    const events = [...variedEvents(3000, 9), ...stormEvents(2000), ...odd, ...variedEvents(500, 10)];
    const expected = Buffer.from(events.map((e) => reference(e) + '\n').join(''));
    const lines = new JsonLinesBuffer(4096);
    const chunks: Buffer[] = [];
    for (const e of events) {
      lines.write(e);
      if (lines.full) chunks.push(lines.take());
    }
    chunks.push(lines.take());
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    for (const e of events) expect(toJsonLine(e)).toBe(reference(e));
  });

  it('bytes() and reset() reuse one buffer; a writer that ignores `full` still gets every line', () => {
    const events = [...variedEvents(2000, 4), ...odd];
    const lines = new JsonLinesBuffer(1024);
    for (const e of events) lines.write(e); // never drained: the buffer grows
    expect(lines.bytes().toString()).toBe(events.map((e) => reference(e) + '\n').join(''));
    lines.reset();
    expect(lines.length).toBe(0);
    lines.write(odd[0]);
    expect(lines.bytes().toString()).toBe(reference(odd[0]) + '\n');
  });

  it('stays right past its cache of escaped strings (many distinct process names)', () => {
    const lines = new JsonLinesBuffer(1 << 16);
    let text = '';
    for (let i = 0; i < 40_000; i++) {
      const e = sampleEvent({ comm: `w${i}\u00e9`, laddr: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` });
      lines.write(e);
      text += reference(e) + '\n';
      if (lines.full) { text = text.slice(expectPrefix(lines.bytes().toString(), text)); lines.reset(); }
    }
    expect(lines.bytes().toString()).toBe(text);
  });
});

/** Checks that `text` starts with `got`; returns the length consumed. */
function expectPrefix(got: string, text: string): number {
  expect(text.slice(0, got.length)).toBe(got);
  return got.length;
}
