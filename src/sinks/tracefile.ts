/**
 * The trace file (`rstrace trace -o FILE`): a msgpack stream written with
 * msgpackr. Plain msgpack only (no msgpackr records or extensions), so any
 * msgpack tool can read it.
 *
 *   header   ['rstrace', 1, host, kernel, bootToWallNs, startTime, {options}]
 *   event    [time, mask, ...changed fields]         one per reset; time is ns since the
 *                                                    previous event, [sec, nsec], or [string]
 *   reset    ['reset']                               the string table starts over
 *   trailer  ['end', delivered, lost, filtered, endTime]
 *
 * Events are small because a reset storm repeats itself: an event carries
 * only the fields that differ from the previous event (`mask` has one bit per
 * field, see FIELDS), its time as nanoseconds since the previous event, the
 * socket cookie as a difference from the previous cookie, and strings through
 * a table that is built inline: a string the first time it appears, its index
 * afterwards. Everything an event needs is therefore before it in the file,
 * so a file cut anywhere decodes up to the cut.
 *
 * The reader treats every byte as hostile: each value is type-checked before
 * it becomes part of an event, and the first bad record ends the read with a
 * `damage` note instead of an exception (only a file that is not a trace at
 * all raises an RstraceError).
 */
import { closeSync, fchmodSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { MsgpackBuffer } from './msgpack-writer.js';
import { Packr, Unpackr } from 'msgpackr';
import type { Attribution, Family, Kind, ResetEvent, TraceCounters } from '../event.js';
import { RstraceError } from '../errors.js';

export const TRACE_MAGIC = 'rstrace';
export const TRACE_FORMAT_VERSION = 1;

export type OptionValue = string | number | boolean | null | readonly (string | number | boolean)[];

export interface TraceHeader {
  magic: typeof TRACE_MAGIC;
  formatVersion: typeof TRACE_FORMAT_VERSION;
  /** host name */
  host: string;
  /** kernel release (uname -r) */
  kernel: string;
  /** add to a CLOCK_BOOTTIME timestamp (ns) to get ns since the epoch; decimal, it is 64-bit */
  bootToWallNs: string;
  /** ISO-8601 UTC */
  startTime: string;
  /** the CLI options the trace ran with */
  options: Record<string, OptionValue>;
}

export interface TraceTrailer extends TraceCounters {
  /** ISO-8601 UTC */
  endTime: string;
}

/** Why a read stopped before the end of the file. */
export interface TraceDamage {
  /** `cut`: the file ends mid-record; `corrupt`: a record is malformed */
  kind: 'cut' | 'corrupt';
  /** byte offset of the first record that could not be read */
  offset: number;
  /** complete events read before it */
  eventsBefore: number;
  detail: string;
}

export interface TraceFile {
  header: TraceHeader;
  events: ResetEvent[];
  /** null when the trace did not end normally (killed, still running, cut) */
  trailer: TraceTrailer | null;
  /** the tail could not be read (`damage` says why); every event before it was */
  truncated: boolean;
  damage: TraceDamage | null;
}

// ---------------------------------------------------------------------------
// Fields of an event record, in mask-bit order. The fields that change from
// one reset to the next in a storm come first, so that the mask usually fits
// in one byte (msgpack positive fixint, < 128).

type FieldType = 'str' | 'num' | 'cookie';
type FieldName = Exclude<keyof ResetEvent, 'time'>;
interface FieldSpec {
  name: FieldName;
  type: FieldType;
  nullable: boolean;
  /** the only values a string field may take */
  oneOf?: ReadonlySet<string>;
}

const F_LPORT = 0, F_RPORT = 1, F_COOKIE = 2, F_PID = 3, F_TID = 4, F_COMM = 5, F_RADDR = 6,
  F_UNREAD = 7, F_UNSENT = 8, F_LADDR = 9, F_CODE = 10, F_CODEKEY = 11, F_REASON = 12,
  F_STATE = 13, F_KIND = 14, F_EXPLANATION = 15, F_ATTRIBUTION = 16, F_FAMILY = 17,
  F_CGROUPID = 18, F_NETNS = 19, F_ACTORPID = 20, F_ACTORCOMM = 21, F_PROBES = 22;

const KINDS: ReadonlySet<string> = new Set<Kind>(['sent', 'received', 'abort']);
const FAMILIES: ReadonlySet<string> = new Set<Family>(['ipv4', 'ipv6']);
const ATTRIBUTIONS: ReadonlySet<string> = new Set<Attribution>(['context', 'owner', 'proc', 'none']);

/** Indexed by the F_* constants. A test checks that it covers EVENT_FIELDS. */
export const FIELDS: readonly FieldSpec[] = [
  { name: 'lport', type: 'num', nullable: false },
  { name: 'rport', type: 'num', nullable: false },
  { name: 'cookie', type: 'cookie', nullable: true },
  { name: 'pid', type: 'num', nullable: true },
  { name: 'tid', type: 'num', nullable: true },
  { name: 'comm', type: 'str', nullable: true },
  { name: 'raddr', type: 'str', nullable: false },
  { name: 'unread', type: 'num', nullable: true },
  { name: 'unsent', type: 'num', nullable: true },
  { name: 'laddr', type: 'str', nullable: false },
  { name: 'code', type: 'num', nullable: false },
  { name: 'codeKey', type: 'str', nullable: false },
  { name: 'reason', type: 'str', nullable: true },
  { name: 'state', type: 'str', nullable: true },
  { name: 'kind', type: 'str', nullable: false, oneOf: KINDS },
  { name: 'explanation', type: 'str', nullable: false },
  { name: 'attribution', type: 'str', nullable: false, oneOf: ATTRIBUTIONS },
  { name: 'family', type: 'str', nullable: false, oneOf: FAMILIES },
  { name: 'cgroupId', type: 'num', nullable: true },
  { name: 'netns', type: 'num', nullable: true },
  { name: 'actorPid', type: 'num', nullable: true },
  { name: 'actorComm', type: 'str', nullable: true },
  { name: 'probes', type: 'num', nullable: true },
];
const FIELD_COUNT = FIELDS.length;
type FieldValue = string | number | null;

/** The string table restarts past this size, so neither side grows without bound. */
const MAX_STRINGS = 1 << 16;
/** No legitimate record comes near this; a longer one is garbage. */
const MAX_RECORD_BYTES = 1 << 20;
/** Time deltas beyond ~11.6 days are written as absolute times, so delta arithmetic stays exact in a double. */
const MAX_TIME_DELTA_NS = 1e15;
/** Cookies up to 15 digits are exact in a double; longer ones are written as strings. */
const COOKIE_RE = /^(?:0|[1-9][0-9]{0,14})$/;
const MAX_COOKIE_DELTA = 2 ** 31;
/** 9999-12-31T23:59:59Z: the last second with a four-digit year. */
const MAX_SEC = 253402300799;

function cookieNumber(cookie: string): number | undefined {
  return COOKIE_RE.test(cookie) ? Number(cookie) : undefined;
}

// ---------------------------------------------------------------------------
// Time: events carry "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; the file stores
// seconds and nanoseconds. Both directions cache the seconds part because
// storm events share the same second.

class TimeCodec {
  private sec = -1;
  private prefix = '';

  /** "YYYY-MM-DDTHH:MM:SS" for a second since the epoch. */
  prefixOf(sec: number): string {
    if (sec !== this.sec) {
      this.prefix = new Date(sec * 1000).toISOString().slice(0, 19);
      this.sec = sec;
    }
    return this.prefix;
  }

  format(sec: number, nsec: number): string {
    const n = '' + nsec;
    return this.prefixOf(sec) + '.' + '000000000'.slice(n.length) + n + 'Z';
  }

  /**
   * [sec, nsec] when `time` is in the canonical form that `format` gives back
   * exactly, else null (the writer then stores the string itself).
   */
  parse(time: string): [number, number] | null {
    if (time.length !== 30 || time.charCodeAt(19) !== 46 /* . */ || time.charCodeAt(29) !== 90 /* Z */) return null;
    let nsec = 0;
    for (let i = 20; i < 29; i++) {
      const d = time.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return null;
      nsec = nsec * 10 + d;
    }
    const prefix = time.slice(0, 19);
    if (prefix === this.prefix) return [this.sec, nsec];
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(prefix)) return null;
    const ms = Date.parse(prefix + 'Z');
    if (!Number.isFinite(ms) || ms < 0 || ms / 1000 > MAX_SEC) return null;
    const sec = ms / 1000;
    // Round trip, so that "2026-02-30" or "T24:00:00" (which Date accepts or shifts) stay strings.
    if (this.prefixOf(sec) !== prefix) return null;
    return [sec, nsec];
  }
}

/** ns since the epoch -> "2026-11-26T07:00:00.123456789Z". */
export function formatTime(nsSinceEpoch: bigint): string {
  let sec = nsSinceEpoch / 1_000_000_000n;
  let nsec = nsSinceEpoch % 1_000_000_000n;
  if (nsec < 0n) { nsec += 1_000_000_000n; sec -= 1n; }
  return new TimeCodec().format(Number(sec), Number(nsec));
}

/** The inverse of `formatTime`, or null when `time` is not in that exact form. */
export function parseTime(time: string): bigint | null {
  const parts = new TimeCodec().parse(time);
  return parts ? BigInt(parts[0]) * 1_000_000_000n + BigInt(parts[1]) : null;
}

// ---------------------------------------------------------------------------
// Writer

/** What `open` needs: options may hold anything commander produced; they are reduced to plain values. */
export type TraceHeaderInput = Omit<TraceHeader, 'formatVersion' | 'magic' | 'options'> & { options: Record<string, unknown> };

export class TraceFileWriter {
  // useRecords:false keeps the output plain msgpack and lets 0..127 be one byte.
  private readonly packr = new Packr({ useRecords: false, variableMapSize: true });
  private readonly strings = new Map<string, number>();
  private readonly prev: FieldValue[] = new Array<FieldValue>(FIELD_COUNT).fill(null);
  private readonly scratch: FieldValue[] = new Array<FieldValue>(FIELD_COUNT).fill(null);
  private readonly time = new TimeCodec();
  private prevSec = NaN; // NaN: the next time is written absolute
  private prevNsec = 0;
  private prevCookie: number | undefined;
  /** every record since the last flush, encoded in place */
  private readonly out = new MsgpackBuffer();
  private timer: NodeJS.Timeout | null = null;
  private pendingError: RstraceError | null = null;
  private fd: number | null;

  private constructor(private readonly path: string, fd: number) {
    this.fd = fd;
  }

  /** Create (or truncate) `path`, mode 0600, and write the header at once. */
  static open(path: string, header: TraceHeaderInput): TraceFileWriter {
    let fd: number;
    try {
      fd = openSync(path, 'w', 0o600);
    } catch (err) {
      throw new RstraceError(`cannot create trace file ${path}: ${errnoText(err)}`,
        'give -o a path in a directory that exists and that you can write to', 1);
    }
    // A trace names processes and peers: keep it private even if the file already existed.
    try { fchmodSync(fd, 0o600); } catch { /* not our file to chmod: keep its mode */ }
    const writer = new TraceFileWriter(path, fd);
    writer.push([TRACE_MAGIC, TRACE_FORMAT_VERSION, String(header.host), String(header.kernel),
      String(header.bootToWallNs), String(header.startTime), plainOptions(header.options)]);
    writer.flush();
    return writer;
  }

  /** Buffer one event; written by the next flush (at the latest 1 MiB later). */
  write(event: ResetEvent): void {
    if (this.fd === null) return; // late events after close(): the trailer's counts are final
    if (this.strings.size + FIELD_COUNT > MAX_STRINGS) {
      this.strings.clear();
      this.push(['reset']);
    }
    // Normalize and check first: a rejected event must leave the string table untouched.
    const values = this.scratch;
    extractFields(event, values);
    for (let i = 0; i < FIELD_COUNT; i++) {
      const spec = FIELDS[i];
      const value = normalize(spec, values[i]);
      if (value === null && !spec.nullable) {
        throw new RstraceError(`cannot write an event without ${spec.name} to ${this.path}`,
          'this is a bug in rstrace: please report it', 1);
      }
      values[i] = value;
    }
    // [time, mask, ...changed values], written in place: the mask says which fields follow.
    let mask = 0;
    let count = 0;
    for (let i = 0; i < FIELD_COUNT; i++) {
      if (values[i] !== this.prev[i]) { mask |= 1 << i; count++; }
    }
    const out = this.out;
    out.arrayHeader(2 + count);
    this.writeTime(event.time);
    out.number(mask);
    for (let i = 0; i < FIELD_COUNT; i++) {
      if (!(mask & (1 << i))) continue;
      const value = values[i];
      this.prev[i] = value;
      const type = FIELDS[i].type;
      const v = type === 'cookie' ? this.encodeCookie(value as string | null)
        : type === 'num' || value === null ? value : this.intern(value as string);
      if (v === null) out.nil();
      else if (typeof v === 'number') out.number(v);
      else out.string(v);
    }
    if (out.pos >= MAX_RECORD_BYTES) this.flush();
  }

  /** Write what is buffered, synchronously. */
  flush(): void {
    if (this.pendingError) { const e = this.pendingError; this.pendingError = null; throw e; }
    if (this.fd === null || this.out.pos === 0) return;
    const data = this.out.view();
    this.out.reset(); // the view stays valid: nothing is written before writeSync returns
    try {
      for (let off = 0; off < data.length;) off += writeSync(this.fd, data, off, data.length - off);
    } catch (err) {
      throw new RstraceError(`cannot write trace file ${this.path}: ${errnoText(err)}`,
        'free space on that file system or write the trace elsewhere with -o', 1);
    }
  }

  /**
   * Flush every `ms` from an unref'd timer (it never keeps the process alive).
   * A write error there goes to `onError`, or else is thrown by the next
   * write/flush/close call.
   */
  startAutoFlush(ms = 1000, onError?: (err: RstraceError) => void): void {
    if (this.timer || this.fd === null) return;
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch (err) {
        const e = err instanceof RstraceError ? err : new RstraceError(String(err), '', 1);
        if (onError) onError(e); else this.pendingError = e;
      }
    }, ms);
    this.timer.unref();
  }

  /** Write the trailer and close the file. Idempotent. */
  close(counters: TraceCounters): void {
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    if (this.fd === null) return;
    this.push(['end', counters.delivered, counters.lost, counters.filtered, new Date().toISOString()]);
    const fd = this.fd;
    try {
      this.flush();
    } finally {
      this.fd = null;
      closeSync(fd);
    }
  }

  /** A control record (header, trailer, table reset): rare, so msgpackr does it. */
  private push(value: unknown): void {
    this.out.raw(this.packr.pack(value));
  }

  private writeTime(time: string): void {
    const t = this.encodeTime(time);
    if (typeof t === 'number') this.out.number(t);
    else this.out.raw(this.packr.pack(t));
  }

  private encodeTime(time: string): unknown {
    const parts = this.time.parse(time);
    // Wrapped in an array: a bare string in first place marks a control record.
    if (parts === null) { this.prevSec = NaN; return [String(time)]; }
    const [sec, nsec] = parts;
    const dsec = sec - this.prevSec; // NaN when there is no previous time
    this.prevSec = sec;
    const prevNsec = this.prevNsec;
    this.prevNsec = nsec;
    if (Math.abs(dsec) <= MAX_TIME_DELTA_NS / 1e9 - 1) return dsec * 1e9 + (nsec - prevNsec);
    return [sec, nsec];
  }

  /** Mirrors TraceDecoder.decodeField's cookie case. */
  private encodeCookie(cookie: string | null): string | number | null {
    if (cookie === null) { this.prevCookie = undefined; return null; }
    const n = cookieNumber(cookie);
    const prev = this.prevCookie;
    this.prevCookie = n;
    if (n !== undefined && prev !== undefined && Math.abs(n - prev) <= MAX_COOKIE_DELTA) return n - prev;
    return cookie;
  }

  private intern(s: string): string | number {
    const index = this.strings.get(s);
    if (index !== undefined) return index;
    this.strings.set(s, this.strings.size);
    return s;
  }
}

/**
 * The event's fields in FIELDS order, read by name at compile time: a keyed
 * read per field (FIELDS[i].name) costs more than the rest of write().
 * A test holds the order to FIELDS.
 */
export function extractFields(e: ResetEvent, out: unknown[]): void {
  out[F_LPORT] = e.lport; out[F_RPORT] = e.rport; out[F_COOKIE] = e.cookie; out[F_PID] = e.pid;
  out[F_TID] = e.tid; out[F_COMM] = e.comm; out[F_RADDR] = e.raddr; out[F_UNREAD] = e.unread;
  out[F_UNSENT] = e.unsent; out[F_LADDR] = e.laddr; out[F_CODE] = e.code; out[F_CODEKEY] = e.codeKey;
  out[F_REASON] = e.reason; out[F_STATE] = e.state; out[F_KIND] = e.kind; out[F_EXPLANATION] = e.explanation;
  out[F_ATTRIBUTION] = e.attribution; out[F_FAMILY] = e.family; out[F_CGROUPID] = e.cgroupId;
  out[F_NETNS] = e.netns; out[F_ACTORPID] = e.actorPid; out[F_ACTORCOMM] = e.actorComm; out[F_PROBES] = e.probes;
}

/** The event's value as the file stores it; JSON prints non-finite numbers as null too. */
function normalize(spec: FieldSpec, value: unknown): FieldValue {
  if (value === null || value === undefined) return null;
  if (spec.type === 'num') return typeof value === 'number' && Number.isFinite(value) ? value + 0 : null;
  return typeof value === 'string' ? value : String(value);
}

function plainOptions(options: Record<string, unknown>): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined || typeof value === 'function' || key === '__proto__') continue;
    if (Array.isArray(value)) out[key] = value.map((v) => (isScalar(v) ? v : String(v)));
    else out[key] = isScalar(value) || value === null ? value : String(value);
  }
  return out;
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e && e.code ? `${e.code} (${e.message.replace(/^\w+: /, '').replace(/, \w+ .*$/, '')})` : String(err);
}

// ---------------------------------------------------------------------------
// Decoder: bytes -> events, fed chunk by chunk.

const REJECT = Symbol('reject');
type Decoded = FieldValue | typeof REJECT;

class TraceDecoder {
  header: TraceHeader | null = null;
  trailer: TraceTrailer | null = null;
  damage: TraceDamage | null = null;
  count = 0;

  // A fresh Unpackr per file: nothing a hostile file defines outlives it.
  // Maps as Map (never plain objects), 64-bit ints as bigint (rejected below).
  private readonly unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
  private readonly table: string[] = [];
  private readonly vals: FieldValue[] = new Array<FieldValue>(FIELD_COUNT).fill(null);
  private readonly time = new TimeCodec();
  private complete = false;
  private sec = NaN;
  private nsec = 0;
  private cookie: number | undefined;
  private pending: Uint8Array | null = null;
  /** file offset of the first byte not yet decoded */
  private base = 0;
  private problem = '';

  constructor(private readonly source: string) {}

  get done(): boolean {
    return this.damage !== null;
  }

  /** Decode every complete record in `chunk` (plus what was left over); events go to `out`. */
  feed(chunk: Uint8Array, out: ResetEvent[]): void {
    if (this.damage || chunk.length === 0) return;
    let data = chunk;
    if (this.pending) {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
      this.pending = null;
    }
    // msgpackr only ever sees whole records: its native string extraction
    // looks ahead and fails on a string cut by the end of the buffer, which
    // would otherwise make a complete record look incomplete.
    const complete = completeValues(data);
    let consumed = 0;
    if (complete > 0) {
      try {
        this.unpackr.unpackMultiple(data.subarray(0, complete), (value: unknown, start?: number, end?: number) => {
          if (!this.accept(value, out)) {
            this.fail('corrupt', this.base + (start ?? consumed), this.problem);
            return false;
          }
          consumed = end ?? consumed;
          return undefined;
        });
      } catch (err) {
        if (err instanceof RstraceError) throw err;
        if (!this.damage) this.fail('corrupt', this.base + consumed, `malformed msgpack (${(err as Error).message ?? String(err)})`);
      }
      if (this.damage) return;
    }
    this.base += complete;
    if (complete < data.length) {
      if (data.length - complete > MAX_RECORD_BYTES) {
        this.fail('corrupt', this.base, `a record longer than ${MAX_RECORD_BYTES} bytes`);
      } else {
        // a copy (Buffer#slice would be a view): the caller reuses its read buffer
        this.pending = Uint8Array.prototype.slice.call(data, complete);
      }
    }
  }

  /** No more bytes: a left-over partial record means the file was cut. */
  finish(): void {
    if (this.header === null && !this.damage) {
      throw new RstraceError(`${this.source} ends inside its header`,
        'the trace was cut off as it started and holds no events', 2);
    }
    if (this.pending && !this.damage) {
      this.fail('cut', this.base, 'the file ends mid-record');
    }
    this.pending = null;
  }

  private fail(kind: TraceDamage['kind'], offset: number, detail: string): void {
    if (this.header === null) {
      throw new RstraceError(`${this.source} has a damaged header (${detail})`,
        'give a trace file written by `rstrace trace -o FILE`', 2);
    }
    this.damage = { kind, offset, eventsBefore: this.count, detail };
    this.pending = null;
  }

  /** One top-level value. false (with `problem` set) when it is not a valid record. */
  private accept(value: unknown, out: ResetEvent[]): boolean {
    if (this.header === null) {
      this.header = readHeader(value, this.source);
      return true;
    }
    if (this.trailer !== null) return this.reject('data after the trailer');
    if (!Array.isArray(value) || value.length === 0) return this.reject('a record that is not an array');
    const first: unknown = value[0];
    if (typeof first === 'string') return this.control(value);
    if (value.length < 2) return this.reject('an event without a field mask');
    return this.event(value, out);
  }

  private control(record: unknown[]): boolean {
    const tag = record[0];
    if (tag === 'reset' && record.length === 1) {
      this.table.length = 0;
      return true;
    }
    if (tag === 'end' && record.length === 5) {
      const [, delivered, lost, filtered, endTime] = record;
      if (!isCount(delivered) || !isCount(lost) || !isCount(filtered) || typeof endTime !== 'string') {
        return this.reject('a malformed trailer');
      }
      this.trailer = { delivered, lost, filtered, endTime };
      return true;
    }
    return this.reject('an unknown record type');
  }

  private event(record: unknown[], out: ResetEvent[]): boolean {
    const time = this.decodeTime(record[0]);
    if (time === null) return this.reject('an event with a bad time');
    const mask = record[1];
    if (typeof mask !== 'number' || mask < 0 || mask >= 2 ** FIELD_COUNT || mask % 1 !== 0) {
      return this.reject('an event with a bad field mask');
    }
    const vals = this.vals;
    let next = 2;
    for (let m = mask, i = 0; m !== 0; m >>>= 1, i++) {
      if ((m & 1) === 0) continue;
      if (next >= record.length) return this.reject('an event with fewer fields than its mask says');
      const v = this.decodeField(i, record[next++]);
      if (v === REJECT) return this.reject(`an event whose ${FIELDS[i].name} has the wrong type`);
      vals[i] = v;
    }
    if (next !== record.length) return this.reject('an event with more fields than its mask says');
    if (!this.complete) {
      for (let i = 0; i < FIELD_COUNT; i++) {
        if (vals[i] === null && !FIELDS[i].nullable) return this.reject(`an event without ${FIELDS[i].name}`);
      }
      this.complete = true;
    }
    // A literal in contract order, so every event has the same hidden class.
    out.push({
      time,
      kind: vals[F_KIND] as Kind,
      code: vals[F_CODE] as number,
      codeKey: vals[F_CODEKEY] as string,
      reason: vals[F_REASON] as string | null,
      family: vals[F_FAMILY] as Family,
      laddr: vals[F_LADDR] as string,
      lport: vals[F_LPORT] as number,
      raddr: vals[F_RADDR] as string,
      rport: vals[F_RPORT] as number,
      state: vals[F_STATE] as string | null,
      pid: vals[F_PID] as number | null,
      tid: vals[F_TID] as number | null,
      comm: vals[F_COMM] as string | null,
      attribution: vals[F_ATTRIBUTION] as Attribution,
      cgroupId: vals[F_CGROUPID] as number | null,
      netns: vals[F_NETNS] as number | null,
      unread: vals[F_UNREAD] as number | null,
      unsent: vals[F_UNSENT] as number | null,
      cookie: vals[F_COOKIE] as string | null,
      actorPid: vals[F_ACTORPID] as number | null,
      actorComm: vals[F_ACTORCOMM] as string | null,
      probes: vals[F_PROBES] as number | null,
      explanation: vals[F_EXPLANATION] as string,
    });
    this.count++;
    return true;
  }

  private decodeTime(t: unknown): string | null {
    let sec: number;
    let nsec: number;
    if (typeof t === 'number') {
      if (!(Math.abs(t) <= MAX_TIME_DELTA_NS) || t % 1 !== 0 || Number.isNaN(this.sec)) return null;
      const total = this.nsec + t;
      const carry = Math.floor(total / 1e9);
      sec = this.sec + carry;
      nsec = total - carry * 1e9;
    } else if (Array.isArray(t)) {
      if (t.length === 1 && typeof t[0] === 'string') {
        this.sec = NaN;
        return t[0];
      }
      if (t.length !== 2) return null;
      sec = t[0];
      nsec = t[1];
      if (typeof sec !== 'number' || typeof nsec !== 'number' || sec % 1 !== 0) return null;
    } else {
      return null;
    }
    if (!(sec >= 0 && sec <= MAX_SEC && nsec >= 0 && nsec < 1e9) || nsec % 1 !== 0) return null;
    this.sec = sec;
    this.nsec = nsec;
    return this.time.format(sec, nsec);
  }

  private decodeField(i: number, v: unknown): Decoded {
    const spec = FIELDS[i];
    if (v === null) {
      if (spec.type === 'cookie') this.cookie = undefined;
      return spec.nullable ? null : REJECT;
    }
    switch (spec.type) {
      case 'num':
        return typeof v === 'number' && Number.isFinite(v) ? v : REJECT;
      case 'str': {
        let s: string;
        if (typeof v === 'number') {
          if (v % 1 !== 0 || v < 0 || v >= this.table.length) return REJECT;
          s = this.table[v];
        } else if (typeof v === 'string') {
          if (this.table.length >= MAX_STRINGS) return REJECT;
          this.table.push(v);
          s = v;
        } else {
          return REJECT;
        }
        return spec.oneOf && !spec.oneOf.has(s) ? REJECT : s;
      }
      case 'cookie': {
        if (typeof v === 'string') {
          this.cookie = cookieNumber(v);
          return v;
        }
        if (typeof v !== 'number' || this.cookie === undefined || v % 1 !== 0 || !(Math.abs(v) <= MAX_COOKIE_DELTA)) return REJECT;
        const n = this.cookie + v;
        if (n < 0 || n > 999_999_999_999_999) return REJECT;
        this.cookie = n;
        return '' + n;
      }
    }
  }

  private reject(problem: string): false {
    this.problem = problem;
    return false;
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The length of the longest prefix of `b` made of complete msgpack values,
 * found from the framing alone (no decoding, no recursion, no allocation).
 */
export function completeValues(b: Uint8Array): number {
  const end = b.length;
  let pos = 0;
  let done = 0;
  let open = 0; // values still owed to the current top-level value
  while (pos < end) {
    if (open === 0) { done = pos; open = 1; }
    const t = b[pos];
    open--;
    let size = 1;
    let extra = 0; // bytes of payload after the header
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc1 || t === 0xc2 || t === 0xc3) size = 1;
    else if (t <= 0x8f) open += 2 * (t & 0x0f);
    else if (t <= 0x9f) open += t & 0x0f;
    else if (t <= 0xbf) extra = t & 0x1f;
    else {
      const n8 = pos + 1 < end ? b[pos + 1] : -1;
      const n16 = pos + 2 < end ? (b[pos + 1] << 8) | b[pos + 2] : -1;
      const n32 = pos + 4 < end ? ((b[pos + 1] << 24) >>> 0) + ((b[pos + 2] << 16) | (b[pos + 3] << 8) | b[pos + 4]) : -1;
      switch (t) {
        case 0xc4: case 0xd9: size = 2; extra = n8; break;
        case 0xc5: case 0xda: size = 3; extra = n16; break;
        case 0xc6: case 0xdb: size = 5; extra = n32; break;
        case 0xc7: size = 3; extra = n8; break;
        case 0xc8: size = 4; extra = n16; break;
        case 0xc9: size = 6; extra = n32; break;
        case 0xca: case 0xce: case 0xd2: size = 5; break;
        case 0xcb: case 0xcf: case 0xd3: size = 9; break;
        case 0xcc: case 0xd0: size = 2; break;
        case 0xcd: case 0xd1: size = 3; break;
        case 0xd4: size = 3; break;
        case 0xd5: size = 4; break;
        case 0xd6: size = 6; break;
        case 0xd7: size = 10; break;
        case 0xd8: size = 18; break;
        case 0xdc: size = 3; extra = n16; open += n16; break;
        case 0xdd: size = 5; extra = n32; open += n32; break;
        case 0xde: size = 3; extra = n16; open += 2 * n16; break;
        case 0xdf: size = 5; extra = n32; open += 2 * n32; break;
      }
      if (extra < 0) return done; // the length itself is cut off
      if (t >= 0xdc) extra = 0; // a container's count is not payload
    }
    pos += size + extra;
    // more values owed than bytes left: this value cannot complete here
    if (pos > end || open > end - pos) return done;
  }
  return open === 0 && pos === end ? end : done;
}

function readHeader(value: unknown, source: string): TraceHeader {
  const notTrace = (): RstraceError => new RstraceError(`${source} is not an rstrace trace file`,
    'give a file written by `rstrace trace -o FILE`', 2);
  if (!Array.isArray(value) || value[0] !== TRACE_MAGIC) throw notTrace();
  const version: unknown = value[1];
  if (version !== TRACE_FORMAT_VERSION) {
    throw new RstraceError(`${source} has trace format version ${String(version)}, this rstrace reads version ${TRACE_FORMAT_VERSION}`,
      'read it with the rstrace release that wrote it, or a newer one', 2);
  }
  const [, , host, kernel, bootToWallNs, startTime, options] = value as unknown[];
  if (value.length !== 7 || typeof host !== 'string' || typeof kernel !== 'string'
    || typeof bootToWallNs !== 'string' || !/^-?\d{1,20}$/.test(bootToWallNs)
    || typeof startTime !== 'string' || !(options instanceof Map)) {
    throw new RstraceError(`${source} has a damaged header`, 'give a trace file written by `rstrace trace -o FILE`', 2);
  }
  return {
    magic: TRACE_MAGIC, formatVersion: TRACE_FORMAT_VERSION,
    host, kernel, bootToWallNs, startTime, options: readOptions(options, source),
  };
}

function readOptions(map: Map<unknown, unknown>, source: string): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [key, value] of map) {
    const ok = typeof key === 'string' && key !== '__proto__' && (isScalar(value) || value === null
      || (Array.isArray(value) && value.length <= 4096 && value.every(isScalar)));
    if (!ok) {
      throw new RstraceError(`${source} has a damaged header (bad option ${typeof key === 'string' ? key : '?'})`,
        'give a trace file written by `rstrace trace -o FILE`', 2);
    }
    out[key as string] = value as OptionValue;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading files

const CHUNK_BYTES = 256 << 10;
/** fixarray(7), fixstr(7) "rstrace": how every trace file begins. */
const MAGIC_BYTES = Buffer.from([0x97, 0xa7, ...Buffer.from(TRACE_MAGIC)]);

/** Streams a trace file in chunks: memory stays flat however long the trace. */
export class TraceReader {
  readonly header: TraceHeader;
  private readonly decoder: TraceDecoder;
  private readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private first: ResetEvent[] | null;
  private fd: number | null;
  private position = 0;

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
    this.decoder = new TraceDecoder(path);
    try {
      const events: ResetEvent[] = [];
      let n = this.read();
      checkMagic(this.buf.subarray(0, n), path, n === 0);
      for (; ;) {
        if (n === 0) { this.decoder.finish(); break; }
        this.decoder.feed(this.buf.subarray(0, n), events);
        if (this.decoder.header) break;
        n = this.read();
      }
      this.header = this.decoder.header as unknown as TraceHeader;
      this.first = events;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Open and read the header; RstraceError (exit 2) when it is not a readable trace file. */
  static open(path: string): TraceReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
      if (fstatSync(fd).isDirectory()) {
        closeSync(fd);
        throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      }
    } catch (err) {
      throw openError(path, err);
    }
    return new TraceReader(path, fd);
  }

  /** The next events, in file order; null when there are no more. */
  nextBatch(): ResetEvent[] | null {
    if (this.first) {
      const batch = this.first;
      this.first = null;
      if (batch.length > 0) return batch;
    }
    while (this.fd !== null && !this.decoder.done) {
      const n = this.read();
      if (n === 0) {
        this.decoder.finish();
        this.close();
        break;
      }
      const events: ResetEvent[] = [];
      this.decoder.feed(this.buf.subarray(0, n), events);
      if (events.length > 0) return events;
    }
    this.close();
    return null;
  }

  get trailer(): TraceTrailer | null { return this.decoder.trailer; }
  get damage(): TraceDamage | null { return this.decoder.damage; }
  get eventCount(): number { return this.decoder.count; }

  close(): void {
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
  }

  private read(): number {
    if (this.fd === null) return 0;
    let n: number;
    try {
      n = readSync(this.fd, this.buf, 0, CHUNK_BYTES, this.position);
    } catch (err) {
      throw new RstraceError(`cannot read ${this.path}: ${errnoText(err)}`, 'check the disk and the file', 1);
    }
    this.position += n;
    return n;
  }
}

function checkMagic(head: Uint8Array, path: string, empty: boolean): void {
  if (empty) {
    throw new RstraceError(`${path} is empty`,
      'the trace wrote nothing (it was stopped before it started, or this is the wrong file)', 2);
  }
  const n = Math.min(head.length, MAGIC_BYTES.length);
  for (let i = 0; i < n; i++) {
    if (head[i] !== MAGIC_BYTES[i]) {
      // byte 0 is the header's array length: a later format may have more fields
      if (i === 0 && head[0] >= 0x91 && head[0] <= 0x9f) continue;
      throw new RstraceError(`${path} is not an rstrace trace file`, 'give a file written by `rstrace trace -o FILE`', 2);
    }
  }
}

function openError(path: string, err: unknown): RstraceError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new RstraceError(`${path}: no such file`, 'check the path', 2);
  if (code === 'EISDIR') return new RstraceError(`${path} is a directory`, 'give a trace file written by `rstrace trace -o FILE`', 2);
  if (code === 'EACCES' || code === 'EPERM') return new RstraceError(`${path}: permission denied`, 'run as a user who can read it (traces are mode 0600)', 2);
  return new RstraceError(`cannot open ${path}: ${errnoText(err)}`, 'check the path', 2);
}

/** Every event of a trace file, in order, calling `onEvent` for each; constant memory. */
export function scanTraceFile(path: string, onEvent: (event: ResetEvent) => void):
  { header: TraceHeader; trailer: TraceTrailer | null; damage: TraceDamage | null; count: number } {
  const reader = TraceReader.open(path);
  try {
    for (let batch = reader.nextBatch(); batch; batch = reader.nextBatch()) {
      for (let i = 0; i < batch.length; i++) onEvent(batch[i]);
    }
  } finally {
    reader.close();
  }
  return { header: reader.header, trailer: reader.trailer, damage: reader.damage, count: reader.eventCount };
}

/** A whole trace file in memory. */
export function readTraceFile(path: string): TraceFile {
  const events: ResetEvent[] = [];
  const r = scanTraceFile(path, (e) => events.push(e));
  return { header: r.header, events, trailer: r.trailer, truncated: r.damage !== null, damage: r.damage };
}

/** The same as readTraceFile, over bytes already in memory (tests, pipes). */
export function decodeTraceBytes(bytes: Uint8Array, source = '<trace>'): TraceFile {
  checkMagic(bytes.subarray(0, MAGIC_BYTES.length), source, bytes.length === 0);
  const decoder = new TraceDecoder(source);
  const events: ResetEvent[] = [];
  decoder.feed(bytes, events);
  decoder.finish();
  return {
    header: decoder.header as TraceHeader, events, trailer: decoder.trailer,
    truncated: decoder.damage !== null, damage: decoder.damage,
  };
}

/** Call `cb` for each event in `bytes`; returns what decodeTraceBytes would, without the events. */
export function forEachEvent(bytes: Uint8Array, cb: (event: ResetEvent) => void): Omit<TraceFile, 'events'> {
  const { events, ...rest } = decodeTraceBytes(bytes);
  for (const e of events) cb(e);
  return rest;
}

/** The one-line warning for a file whose tail could not be read. */
export function describeDamage(path: string, d: TraceDamage): string {
  const n = d.eventsBefore.toLocaleString('en-US');
  return d.kind === 'cut'
    ? `rstrace: ${path}: trace ends mid-record after ${n} events (tail truncated); every complete event was read`
    : `rstrace: ${path}: trace is damaged at byte ${d.offset} after ${n} events (${d.detail}); every event before it was read`;
}
