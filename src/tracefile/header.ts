/**
 * The header value, checked field by field: every byte of a trace file is
 * hostile input. Maps arrive as Map (msgpackr mapsAsObjects: false), so no
 * key can reach an object's prototype.
 */
import { RstraceError } from '../errors.js';
import { KINDS, type Kind } from '../event.js';
import type { EventFilter } from '../filter.js';
import type { ReasonNames } from '../kernel/names.js';
import {
  TRACE_FORMAT_VERSION, TRACE_MAGIC, layoutFingerprint, type NameTables, type OptionValue, type TraceHeader,
} from './format.js';
import { RECORD_SIZE } from '../decode.js';

const FILTER_NUMBERS = ['pids', 'ports', 'netns', 'cgroups', 'codes'] as const;
const FILTER_STRINGS = ['comms', 'cgroupPaths', 'containers', 'units'] as const;

function damaged(source: string, what: string): RstraceError {
  return new RstraceError(`${source}: damaged header (${what})`, 'the file is not a complete rstrace trace; record it again', 2);
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

function stringKeyed(v: unknown, source: string, what: string): Map<string, unknown> {
  if (!(v instanceof Map)) throw damaged(source, `${what} is not a map`);
  for (const k of v.keys()) {
    if (typeof k !== 'string' || k === '__proto__') throw damaged(source, `${what} has a bad key`);
  }
  return v as Map<string, unknown>;
}

function readOptions(v: unknown, source: string): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [k, x] of stringKeyed(v, source, 'options')) {
    if (x === null || isScalar(x)) out[k] = x;
    else if (Array.isArray(x) && x.every(isScalar)) out[k] = x;
    else throw damaged(source, `option ${k}`);
  }
  return out;
}

function readNames(v: unknown, source: string): NameTables {
  const out: NameTables = {};
  for (const [k, x] of stringKeyed(v, source, 'names')) {
    if (!Array.isArray(x)) throw damaged(source, `name table ${k}`);
    const pairs: [number, string][] = [];
    for (const p of x) {
      if (!Array.isArray(p) || p.length !== 2 || !Number.isInteger(p[0]) || typeof p[1] !== 'string') throw damaged(source, `name table ${k}`);
      pairs.push([p[0] as number, p[1] as string]);
    }
    out[k] = pairs;
  }
  if (!out.sk_rst_reason) throw damaged(source, 'no sk_rst_reason name table');
  return out;
}

function readFilter(v: unknown, source: string): EventFilter | null {
  if (v === null) return null;
  const f: EventFilter = {};
  for (const [k, x] of stringKeyed(v, source, 'filter')) {
    if (!Array.isArray(x)) throw damaged(source, `filter ${k}`);
    if ((FILTER_NUMBERS as readonly string[]).includes(k)) {
      if (!x.every((n) => Number.isInteger(n))) throw damaged(source, `filter ${k}`);
      f[k as (typeof FILTER_NUMBERS)[number]] = x as number[];
    } else if (FILTER_STRINGS.includes(k as (typeof FILTER_STRINGS)[number]) && x.every((s) => typeof s === 'string')) {
      f[k as (typeof FILTER_STRINGS)[number]] = x as string[];
    }
    else if (k === 'kinds' && x.every((s) => KINDS.includes(s as Kind))) f.kinds = x as Kind[];
    else throw damaged(source, `filter ${k}`);
  }
  return f;
}

/** The header value, or a one-line RstraceError (exit 2) saying what is wrong. */
export function readHeader(value: unknown, source: string): TraceHeader {
  if (!Array.isArray(value) || value[0] !== TRACE_MAGIC) {
    throw new RstraceError(`${source} is not an rstrace trace file`, 'give a file written by `rstrace trace -o FILE`', 2);
  }
  if (value[1] !== TRACE_FORMAT_VERSION) {
    const v = typeof value[1] === 'number' ? String(value[1]) : '?';
    throw new RstraceError(`${source} is trace format version ${v}, this rstrace reads version ${TRACE_FORMAT_VERSION}`,
      v === '1' ? 'read it with the rstrace release that wrote it (version 1 stored classified events), or trace again' : 'use the rstrace release that wrote it', 2);
  }
  if (value.length !== 3) throw damaged(source, 'wrong number of fields');
  const m = stringKeyed(value[2], source, 'header');
  const str = (k: string): string => {
    const s = m.get(k);
    if (typeof s !== 'string') throw damaged(source, k);
    return s;
  };
  const bootToWallNs = str('bootToWallNs');
  if (!/^-?\d{1,20}$/.test(bootToWallNs)) throw damaged(source, 'bootToWallNs');
  const recordSize = m.get('recordSize');
  const layout = str('layout');
  if (recordSize !== RECORD_SIZE || layout !== layoutFingerprint()) {
    throw new RstraceError(`${source}: records have layout ${layout} (${String(recordSize)} bytes), this rstrace reads layout ${layoutFingerprint()}`,
      'read it with the rstrace build that wrote it', 2);
  }
  const limit = m.get('limit') ?? null;
  if (limit !== null && !(Number.isInteger(limit) && (limit as number) >= 0)) throw damaged(source, 'limit');
  return {
    magic: TRACE_MAGIC, formatVersion: TRACE_FORMAT_VERSION,
    host: str('host'), kernel: str('kernel'), bootToWallNs, startTime: str('startTime'),
    options: readOptions(m.get('options'), source), recordSize: RECORD_SIZE, layout,
    names: readNames(m.get('names'), source), filter: readFilter(m.get('filter') ?? null, source), limit: limit as number | null,
  };
}

/** The header's sk_rst_reason table as the Pipeline wants it. */
export function reasonNames(h: TraceHeader): ReasonNames {
  return new Map(h.names.sk_rst_reason);
}

/** The writing kernel's skb_drop_reason names (they drift between kernels); undefined in files from before ignored RSTs. */
export function dropReasonNamesOf(h: TraceHeader): ReasonNames | undefined {
  return h.names.skb_drop_reason ? new Map(h.names.skb_drop_reason) : undefined;
}
