import { describe, expect, it } from 'vitest';
import { toJsonLine } from '../../src/sinks/jsonl.js';
import { EVENT_FIELDS, type ResetEvent } from '../../src/event.js';
import { sampleEvent } from '../helpers/sample-events.js';

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
