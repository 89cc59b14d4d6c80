/**
 * JSON lines: one object per event, fields in the contract's order. `export`
 * uses the same function, so a file exported later is identical, line for
 * line, to what `trace --json` printed live. The encoder is one template in
 * field order, compiled once from EVENT_SCHEMA (a loop over the field names
 * per event costs several times more on the live path), with the escaped
 * form of repeated strings (kinds, states, addresses, process names,
 * phrases) cached: no intermediate object per event.
 * test/unit/jsonl.test.ts holds it to JSON.stringify of EVENT_FIELDS in order.
 */
import { EVENT_SCHEMA, type FieldSpec, type ResetEvent } from '../event.js';

let escaped = new Map<string, string>();

/** A string that repeats across events: escaped once. */
function s(v: string | null): string {
  if (v === null || v === undefined) return 'null';
  let e = escaped.get(v);
  if (e === undefined) {
    e = JSON.stringify(v);
    if (escaped.size >= 16384) escaped = new Map();
    escaped.set(v, e);
  }
  return e;
}

/** A string unique to the event (time, cookie): plain ASCII by construction, checked cheaply. */
const PLAIN = /^[0-9A-Za-z:.\-]*$/;

function u(v: string | null): string {
  if (v === null || v === undefined) return 'null';
  return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
}

function n(v: number | null): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${v}` : 'null';
}

/** A field name as it may appear in generated code: a plain identifier. */
export function fieldAccess(f: FieldSpec): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name)) throw new Error(`event field name ${JSON.stringify(f.name)} is not an identifier`);
  return `e.${f.name}`;
}

function compile(): (e: ResetEvent) => string {
  const specs: readonly FieldSpec[] = EVENT_SCHEMA;
  const parts = specs.map((f, i) => {
    const encode = f.type === 'integer' ? 'n' : f.unique ? 'u' : 's';
    return `${i === 0 ? '{' : ','}"${f.name}":\${${encode}(${fieldAccess(f)})}`;
  });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('s', 'u', 'n', `return function toJsonLine(e) { return \`${parts.join('')}}\`; };`)(s, u, n) as (e: ResetEvent) => string;
}

/** One event as its JSON line (without the newline). */
export const toJsonLine: (e: ResetEvent) => string = compile();
