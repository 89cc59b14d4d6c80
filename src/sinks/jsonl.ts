/**
 * JSON lines: one object per event, fields in the contract's order. `export`
 * uses the same function, so a file exported later is identical, line for
 * line, to what `trace --json` printed live. Built by hand in field order,
 * with the escaped form of repeated strings (kinds, states, addresses,
 * process names, phrases) cached: no intermediate object per event.
 */
import { EVENT_FIELDS, type ResetEvent } from '../event.js';

const KEYS = EVENT_FIELDS.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f)}:`);
const TIME = EVENT_FIELDS.indexOf('time');
const COOKIE = EVENT_FIELDS.indexOf('cookie');

const escaped = new Map<string, string>();

function str(v: string): string {
  let e = escaped.get(v);
  if (e === undefined) {
    e = JSON.stringify(v);
    if (escaped.size >= 16384) escaped.clear();
    escaped.set(v, e);
  }
  return e;
}

/** Strings unique per event (time, cookie) skip the cache; they are plain ASCII by construction. */
const PLAIN = /^[0-9A-Za-z:.\-]*$/;

function value(v: unknown, unique: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string') return unique && PLAIN.test(v) ? `"${v}"` : str(v);
  return JSON.stringify(v) ?? 'null';
}

export function toJsonLine(event: ResetEvent): string {
  let out = '';
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    out += KEYS[i] + value(event[EVENT_FIELDS[i]], i === TIME || i === COOKIE);
  }
  return out + '}';
}
