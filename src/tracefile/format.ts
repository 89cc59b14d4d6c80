/**
 * Trace file format, version 2 (docs/trace-format.md): what both the writer
 * and the reader must agree on. A msgpack stream of top-level values:
 *
 *   header   ['rstrace', 2, {host, kernel, bootToWallNs, startTime, options,
 *                            recordSize, layout, names, filter, limit}]
 *   owners   ['o', ino, pid|nil, comm|nil, ...]   /proc answers, before the batch that needs them
 *   forget   ['of']                                the owner table starts over (bounded memory)
 *   cgroups  ['c', id, path, ...]                  cgroup names, before the batch that needs them
 *   forget   ['cf']                                the cgroup table starts over
 *   batch    ['b', bin]                            one addon batch, records delta-coded (records.ts)
 *   trailer  ['end', delivered, lost, filtered, endTime, kernel?]  kernel: the completeness check (kernel-check.ts)
 *
 * The file keeps kernel facts; `report` and `export` classify at read time
 * through the same Pipeline as live, so they print what live printed.
 */
import { endianness } from 'node:os';
import { FLAG, KIND, OFFSETS, RECORD_SIZE } from '../decode.js';
import type { TraceCounters } from '../event.js';
import type { NetnsCheck } from '../completeness/check.js';
import type { EventFilter } from '../filter.js';

export const TRACE_MAGIC = 'rstrace';
export const TRACE_FORMAT_VERSION = 2;

export const TAG_OWNERS = 'o';
export const TAG_FORGET_OWNERS = 'of';
export const TAG_CGROUPS = 'c';
export const TAG_FORGET_CGROUPS = 'cf';
export const TAG_BATCH = 'b';
export const TAG_END = 'end';

/** Owners remembered by both sides before the table starts over. */
export const MAX_OWNERS = 1 << 16;
/** cgroup names remembered by both sides before the table starts over. */
export const MAX_CGROUPS = 1 << 16;

export type OptionValue = string | number | boolean | null | readonly (string | number | boolean)[];

/** Kernel enum name tables, by enum name; values are [number, name] pairs. */
export type NameTables = Record<string, readonly (readonly [number, string])[]>;

export interface TraceHeader {
  magic: typeof TRACE_MAGIC;
  formatVersion: typeof TRACE_FORMAT_VERSION;
  host: string;
  /** kernel release (uname -r) */
  kernel: string;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME in ns, decimal (64-bit) */
  bootToWallNs: string;
  /** ISO-8601 UTC */
  startTime: string;
  /** the CLI options the trace ran with (informational) */
  options: Record<string, OptionValue>;
  /** bytes per kernel record */
  recordSize: number;
  /** fingerprint of the record layout (see layoutFingerprint) */
  layout: string;
  /** at least `sk_rst_reason`; `skb_drop_reason` since ignored RSTs (older files: the reading kernel's names) */
  names: NameTables;
  /** the live user-space filter, re-applied at read time; null for none */
  filter: EventFilter | null;
  /** live --count: the reader stops after this many events; null for none */
  limit: number | null;
}

export type TraceHeaderInput = Pick<TraceHeader, 'host' | 'kernel' | 'bootToWallNs' | 'startTime'> & {
  options: Record<string, unknown>;
  names: NameTables;
  filter?: EventFilter | null;
  limit?: number | null;
};

export interface TraceTrailer extends TraceCounters {
  /** ISO-8601 UTC */
  endTime: string;
  /** the completeness check against TcpOutRsts; null in files written before it existed */
  kernel: NetnsCheck[] | null;
}

/** Why a read stopped before the end of the file. */
export interface TraceDamage {
  /** `cut`: the file ends mid-value; `corrupt`: a value is malformed */
  kind: 'cut' | 'corrupt';
  /** byte offset of the first value that could not be read */
  offset: number;
  /** complete events read before it */
  eventsBefore: number;
  detail: string;
}

/** Words of 32 bits per record: the unit of the delta coding. */
export const RECORD_WORDS = RECORD_SIZE / 4;

/** Offset of the kind byte, which picks the delta reference (records.ts). */
export const KIND_OFFSET = OFFSETS.kind;

/**
 * FNV-1a over everything that gives record bytes their meaning: size, field
 * offsets, flag bits, kinds and byte order. A file from a build with another
 * layout is refused rather than misread.
 */
export function layoutFingerprint(): string {
  const text = JSON.stringify({ size: RECORD_SIZE, offsets: OFFSETS, flags: FLAG, kinds: KIND, endian: endianness() });
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${RECORD_SIZE}-${h.toString(16).padStart(8, '0')}`;
}

/** The one-line warning for a file whose tail could not be read. */
export function describeDamage(path: string, d: TraceDamage): string {
  const n = d.eventsBefore.toLocaleString('en-US');
  return d.kind === 'cut'
    ? `rstrace: ${path}: trace ends mid-record after ${n} events (tail truncated); every complete event was read`
    : `rstrace: ${path}: trace is damaged at byte ${d.offset} after ${n} events (${d.detail}); every event before it was read`;
}
