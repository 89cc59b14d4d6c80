/**
 * JSON lines: one object per event, fields in the contract's order. `export`
 * uses the same function, so a file exported later is identical, line for
 * line, to what `trace --json` printed live. One template in field order, with
 * the escaped form of repeated strings (kinds, states, addresses, process
 * names, phrases) cached: no intermediate object per event.
 * test/unit/jsonl.test.ts holds it to JSON.stringify of EVENT_FIELDS in order.
 */
import type { ResetEvent } from '../event.js';

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

export function toJsonLine(e: ResetEvent): string {
  return `{"time":${u(e.time)},"kind":${s(e.kind)},"code":${n(e.code)},"codeKey":${s(e.codeKey)},` +
    `"reason":${s(e.reason)},"family":${s(e.family)},"laddr":${s(e.laddr)},"lport":${n(e.lport)},` +
    `"raddr":${s(e.raddr)},"rport":${n(e.rport)},"state":${s(e.state)},"pid":${n(e.pid)},"tid":${n(e.tid)},` +
    `"comm":${s(e.comm)},"attribution":${s(e.attribution)},"cgroupId":${n(e.cgroupId)},"netns":${n(e.netns)},` +
    `"unread":${n(e.unread)},"unsent":${n(e.unsent)},"cookie":${u(e.cookie)},"actorPid":${n(e.actorPid)},` +
    `"actorComm":${s(e.actorComm)},"probes":${n(e.probes)},"explanation":${s(e.explanation)}}`;
}
