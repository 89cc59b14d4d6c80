/**
 * JSON lines: one object per event, fields in the contract's order. `export`
 * uses the same function, so a file exported later is identical, line for
 * line, to what `trace --json` printed live. Built by hand in field order:
 * no intermediate object per event.
 */
import { EVENT_FIELDS, type ResetEvent } from '../event.js';

const KEYS = EVENT_FIELDS.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f)}:`);

function value(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  return JSON.stringify(v);
}

export function toJsonLine(event: ResetEvent): string {
  let out = '';
  for (let i = 0; i < EVENT_FIELDS.length; i++) out += KEYS[i] + value(event[EVENT_FIELDS[i]]);
  return out + '}';
}
