/**
 * Reads a trace file in chunks with flat memory: msgpackr's own incremental
 * decoding (unpackMultiple; an `incomplete` error leaves the tail for the
 * next chunk, as msgpackr's stream.js does), the batches rebuilt exactly as
 * the addon delivered them, and classified through the live Pipeline with the
 * file's clock, reason names, /proc answers and filter. The first bad value
 * ends the read with a `damage` note; only a file that is not a trace at all
 * raises an RstraceError.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Unpackr as UnpackrClass } from 'msgpackr';
import { RECORD_SIZE } from '../decode.js';
import { isoToMs, WallClock } from '../enrich/clock.js';
import type { ResetEvent } from '../event.js';
import { RstraceError } from '../errors.js';
import { isEmptyFilter, matchesFilter } from '../filter.js';
import { Pipeline, type EventVisitor } from '../pipeline.js';
import {
  MAX_CGROUPS, MAX_OWNERS, RECORD_WORDS, TAG_BATCH, TAG_CGROUPS, TAG_END, TAG_FORGET_CGROUPS, TAG_FORGET_OWNERS, TAG_OWNERS,
  type TraceDamage, type TraceHeader, type TraceTrailer,
} from './format.js';
import { dropReasonNamesOf, readHeader, reasonNames } from './header.js';
import { FileCgroups, FileOwners } from './owners.js';
import { RecordRefs, decodeRecords } from './records.js';
import { decodeChecks } from './kernel-check.js';

/**
 * msgpackr's plain-JS build. The default build's native string extractor
 * reads strings ahead up to the end of the buffer, so at the end of a cut
 * file a value cut short makes the complete values before it look
 * incomplete; this build decodes value by value. A trace holds few strings,
 * so the native extractor would gain nothing here.
 */
const { Unpackr } = createRequire(import.meta.url)('msgpackr/unpack-no-eval') as { Unpackr: typeof UnpackrClass };

const CHUNK_BYTES = 256 << 10;
/** No value the writer makes comes near this (a batch of 8,192 records is at most 1.6 MiB): a longer one is garbage. */
const MAX_VALUE_BYTES = 8 << 20;
/** The addon's batches hold at most 8,192 records; room for more, not for a claimed billion. */
const MAX_BATCH_RECORDS = 1 << 16;
/** 9999-12-31T23:59:59Z: the last second with a four-digit year. */
const MAX_WALL_SEC = 253402300799;
const MAGIC_PREFIX = Buffer.from([0xa7, ...Buffer.from('rstrace')]);

/** The bytes of a trace, from a file or from memory. */
interface ByteSource {
  /** fill `buf`, return bytes read (0 at the end) */
  read(buf: Uint8Array): number;
  close(): void;
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(err);
}

function openError(path: string, err: unknown): RstraceError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new RstraceError(`${path}: no such file`, 'check the path', 2);
  if (code === 'EISDIR') return new RstraceError(`${path} is a directory`, 'give a trace file written by `rstrace trace -o FILE`', 2);
  if (code === 'EACCES' || code === 'EPERM') return new RstraceError(`${path}: permission denied`, 'run as a user who can read it (traces are mode 0600)', 2);
  return new RstraceError(`cannot open ${path}: ${errnoText(err)}`, 'check the path', 2);
}

function fileSource(path: string): ByteSource {
  let fd: number;
  try {
    fd = openSync(path, 'r');
    if (fstatSync(fd).isDirectory()) { closeSync(fd); throw Object.assign(new Error('is a directory'), { code: 'EISDIR' }); }
  } catch (err) {
    throw openError(path, err);
  }
  return {
    read: (buf) => {
      try {
        return readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        throw new RstraceError(`cannot read ${path}: ${errnoText(err)}`, 'check the file and the disk', 1);
      }
    },
    close: () => closeSync(fd),
  };
}

function memorySource(bytes: Uint8Array): ByteSource {
  let at = 0;
  return {
    read: (buf) => {
      const n = Math.min(buf.length, bytes.length - at);
      buf.set(bytes.subarray(at, at + n));
      at += n;
      return n;
    },
    close: () => {},
  };
}

interface QueuedValue {
  value: unknown;
  offset: number;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export class TraceReader {
  readonly header: TraceHeader;
  trailer: TraceTrailer | null = null;
  damage: TraceDamage | null = null;
  /** events handed out so far */
  eventCount = 0;
  /** bytes read from the file so far (what a progress bar shows) */
  bytesRead = 0;
  private readonly unpackr = new Unpackr({ mapsAsObjects: false, useRecords: false, int64AsType: 'number' });
  private readonly pipeline: Pipeline;
  private readonly owners = new FileOwners();
  private readonly cgroups = new FileCgroups();
  private readonly refs = new RecordRefs();
  private words = new Uint32Array(8192 * RECORD_WORDS);
  private readonly clockOffSec: number;
  private readonly chunk = new Uint8Array(CHUNK_BYTES); // for the header only
  /** undecoded bytes: the tail of the last chunk that held no complete value */
  private tail: Uint8Array = new Uint8Array(0);
  /** file offset of tail[0] */
  private tailOffset = 0;
  private ended = false;
  private eof = false;
  /** decoded values not yet processed */
  private queue: QueuedValue[] = [];
  private queued = 0;
  /** how the data ends, once the queue is processed */
  private endWith: { kind: 'end' } | { kind: TraceDamage['kind']; offset: number; detail: string } | null = null;
  private out: ResetEvent[] = [];
  /** set while forEachEvent runs */
  private visit: EventVisitor | null = null;

  private constructor(private readonly source: ByteSource, private readonly name: string) {
    const header = this.readHeaderValue();
    this.header = header;
    const filter = header.filter && !isEmptyFilter(header.filter) ? header.filter : null;
    const clock = new WallClock(BigInt(header.bootToWallNs));
    this.clockOffSec = Number(clock.bootToWallNs / 1_000_000_000n);
    this.pipeline = new Pipeline({
      clock, proc: this.owners, cgroups: this.cgroups, reasons: reasonNames(header), dropReasons: dropReasonNamesOf(header), keep: filter ? (e) => matchesFilter(e, filter) : undefined,
    });
  }

  static open(path: string): TraceReader {
    const src = fileSource(path);
    try {
      return new TraceReader(src, path);
    } catch (err) {
      src.close();
      throw err;
    }
  }

  static fromBytes(bytes: Uint8Array, name = '<trace>'): TraceReader {
    return new TraceReader(memorySource(bytes), name);
  }

  /** The next events (never an empty array), or null at the end of the file. */
  nextBatch(): ResetEvent[] | null {
    while (this.out.length === 0 && !this.ended) {
      if (this.queued < this.queue.length) {
        const q = this.queue[this.queued++];
        this.value(q.value, q.offset);
      } else if (this.endWith) {
        const e = this.endWith;
        if (e.kind === 'end') this.finish(); else this.fail(e.kind, e.offset, e.detail);
      } else this.step();
    }
    if (this.out.length === 0) return null;
    const events = this.out;
    this.out = [];
    return events;
  }

  /**
   * Every remaining event, in order, to `visit`. The event object is reused
   * (copy what you keep): no event is allocated, which is what makes
   * `report` fast.
   */
  forEachEvent(visit: EventVisitor): void {
    this.visit = visit;
    try {
      while (this.nextBatch() !== null) { /* events go to visit, not to batches */ }
    } finally {
      this.visit = null;
    }
  }

  close(): void {
    this.ended = true;
    this.source.close();
  }

  /** Read until the header value is complete; the magic is checked on the first bytes. */
  private readHeaderValue(): TraceHeader {
    let bytes = new Uint8Array(0);
    for (;;) {
      const n = this.source.read(this.chunk);
      this.bytesRead += n;
      if (n === 0) {
        if (bytes.length === 0) {
          throw new RstraceError(`${this.name} is empty`, 'the trace wrote nothing (it was stopped before it started, or this is the wrong file)', 2);
        }
        throw new RstraceError(`${this.name} ends inside its header`, 'the trace was cut off as it started; record it again', 2);
      }
      bytes = Buffer.concat([bytes, this.chunk.subarray(0, n)]);
      const head = bytes.subarray(1, 1 + MAGIC_PREFIX.length);
      if ((bytes[0] & 0xf0) !== 0x90 || !MAGIC_PREFIX.subarray(0, head.length).equals(head)) {
        throw new RstraceError(`${this.name} is not an rstrace trace file`, 'give a file written by `rstrace trace -o FILE`', 2);
      }
      let value: unknown;
      let end = 0;
      try {
        this.unpackr.unpackMultiple(bytes, (v, _start, stop) => { value = v; end = stop ?? 0; return false; });
      } catch (err) {
        if ((err as { incomplete?: boolean }).incomplete && bytes.length < MAX_VALUE_BYTES) continue;
        throw new RstraceError(`${this.name}: damaged header (${(err as Error).message.slice(0, 80)})`, 'the file is not a complete rstrace trace; record it again', 2);
      }
      const header = readHeader(value, this.name);
      this.tail = bytes.subarray(end);
      this.tailOffset = end;
      return header;
    }
  }

  private fail(kind: TraceDamage['kind'], offset: number, detail: string): void {
    this.damage = { kind, offset, eventsBefore: this.eventCount, detail };
    this.finish();
  }

  /** The end of the data: events still held for one batch were real. */
  private finish(): void {
    if (this.ended) return;
    this.emit(this.pipeline.flush());
    this.ended = true;
  }

  /** One event of forEachEvent, within --count. */
  private visitOne = (e: ResetEvent, ms: number, subNs: number): void => {
    if (this.ended || !this.visit) return;
    this.eventCount++;
    this.visit(e, ms, subNs);
    if (this.header.limit !== null && this.eventCount >= this.header.limit) this.ended = true; // live stopped here (--count)
  };

  private emit(events: ResetEvent[]): void {
    if (this.visit) { for (const e of events) this.visitOne(e, isoToMs(e.time), -1); return; }
    const limit = this.header.limit;
    if (limit !== null && this.eventCount + events.length >= limit) {
      events = events.slice(0, Math.max(0, limit - this.eventCount));
      this.ended = true; // live stopped here (--count)
    }
    this.eventCount += events.length;
    if (this.out.length === 0) this.out = events;
    else for (let i = 0; i < events.length; i++) this.out.push(events[i]);
  }

  /**
   * One chunk more: decode every complete value in it into the queue; the
   * pipeline runs on them one at a time in nextBatch, so that the events of
   * one batch, not of a whole chunk, are alive at once (they die young).
   */
  private step(): void {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES); // fresh: queued batches are views into it
    const n = this.eof ? 0 : this.source.read(chunk);
    this.bytesRead += n;
    if (n === 0) {
      this.eof = true;
      if (this.tail.length === 0) { this.endWith = { kind: 'end' }; return; }
    }
    const bytes = this.tail.length ? Buffer.concat([this.tail, chunk.subarray(0, n)]) : chunk.subarray(0, n);
    const base = this.tailOffset;
    const queue: QueuedValue[] = [];
    this.queue = queue;
    this.queued = 0;
    let consumed = 0;
    try {
      this.unpackr.unpackMultiple(bytes, (value, start, end) => {
        queue.push({ value, offset: base + (start ?? 0) });
        consumed = end ?? bytes.length;
      });
      consumed = bytes.length;
    } catch (err) {
      const at = (err as { lastPosition?: number }).lastPosition ?? consumed;
      if (!(err as { incomplete?: boolean }).incomplete) {
        this.endWith = { kind: 'corrupt', offset: base + at, detail: `not msgpack: ${(err as Error).message.slice(0, 60)}` };
        return;
      }
      consumed = at;
      if (bytes.length - consumed > MAX_VALUE_BYTES) {
        this.endWith = { kind: 'corrupt', offset: base + consumed, detail: `a value longer than ${MAX_VALUE_BYTES} bytes` };
        return;
      }
    }
    if (this.eof) {
      this.endWith = consumed < bytes.length ? { kind: 'cut', offset: base + consumed, detail: 'the file ends inside a value' } : { kind: 'end' };
      return;
    }
    this.tail = consumed < bytes.length ? bytes.subarray(consumed) : new Uint8Array(0);
    this.tailOffset = base + consumed;
  }

  /** One top-level value; false ends the read (trailer, damage, or --count reached). */
  private value(v: unknown, offset: number): boolean {
    if (this.ended) return false;
    if (!Array.isArray(v) || typeof v[0] !== 'string') { this.fail('corrupt', offset, 'a value that is not a tagged array'); return false; }
    switch (v[0]) {
      case TAG_BATCH:
        if (v.length !== 2 || !(v[1] instanceof Uint8Array)) break;
        return this.batch(v[1], offset);
      case TAG_OWNERS: {
        if ((v.length - 1) % 3 !== 0) break;
        for (let i = 1; i < v.length; i += 3) {
          const [ino, pid, comm] = [v[i], v[i + 1], v[i + 2]];
          if (!isCount(ino) || ino === 0 || !(pid === null || isCount(pid)) || !(comm === null || typeof comm === 'string')) {
            this.fail('corrupt', offset, 'bad owner entry'); return false;
          }
          this.owners.set(ino, pid === null ? null : { pid, comm });
        }
        if (this.owners.size > 2 * MAX_OWNERS) { this.fail('corrupt', offset, 'owner table too large'); return false; }
        return true;
      }
      case TAG_FORGET_OWNERS:
        if (v.length !== 1) break;
        this.owners.forget();
        return true;
      case TAG_CGROUPS: {
        if ((v.length - 1) % 2 !== 0) break;
        for (let i = 1; i < v.length; i += 2) {
          const [id, path] = [v[i], v[i + 1]];
          if (!isCount(id) || id === 0 || typeof path !== 'string' || !path.startsWith('/')) {
            this.fail('corrupt', offset, 'bad cgroup entry'); return false;
          }
          this.cgroups.set(id, path);
        }
        if (this.cgroups.size > 2 * MAX_CGROUPS) { this.fail('corrupt', offset, 'cgroup table too large'); return false; }
        return true;
      }
      case TAG_FORGET_CGROUPS:
        if (v.length !== 1) break;
        this.cgroups.forget();
        return true;
      case TAG_END: {
        const [, delivered, lost, filtered, endTime, kernelValue] = v;
        if ((v.length !== 5 && v.length !== 6) || !isCount(delivered) || !isCount(lost) || !isCount(filtered) || typeof endTime !== 'string') break;
        // the sixth element, the completeness check, is absent from older files
        const kernel = v.length === 6 ? decodeChecks(kernelValue) : null;
        if (typeof kernel === 'string') { this.fail('corrupt', offset, kernel); return false; }
        this.trailer = { delivered, lost, filtered, endTime, kernel };
        this.finish();
        return false;
      }
    }
    this.fail('corrupt', offset, `malformed '${String(v[0]).slice(0, 16)}' value`);
    return false;
  }

  private batch(payload: Uint8Array, offset: number): boolean {
    const most = Math.min(MAX_BATCH_RECORDS, Math.ceil(payload.length / 5));
    if (this.words.length < most * RECORD_WORDS) this.words = new Uint32Array(most * RECORD_WORDS);
    const n = decodeRecords(this.refs, payload, this.words, most);
    if (typeof n === 'string') { this.fail('corrupt', offset, n); return false; }
    const words = this.words;
    // A time the clock cannot print would throw in the pipeline: the record is garbage.
    for (let r = 0; r < n; r++) {
      const sec = (words[r * RECORD_WORDS + 1] * 4294967296 + words[r * RECORD_WORDS]) / 1e9 + this.clockOffSec;
      if (!(sec >= 0 && sec <= MAX_WALL_SEC)) { this.fail('corrupt', offset, 'record time out of range'); return false; }
    }
    let events: ResetEvent[];
    try {
      const bytes = new Uint8Array(words.buffer, 0, n * RECORD_SIZE);
      if (this.visit) {
        this.pipeline.eachEvent(bytes, n, this.visitOne);
        return !this.ended;
      }
      events = this.pipeline.processBatch(bytes, n);
    } catch (err) {
      this.fail('corrupt', offset, `record not readable: ${(err as Error).message.slice(0, 60)}`);
      return false;
    }
    this.emit(events);
    return !this.ended;
  }
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

function drain(reader: TraceReader, onEvent: (e: ResetEvent) => void): void {
  try {
    for (let b = reader.nextBatch(); b; b = reader.nextBatch()) for (let i = 0; i < b.length; i++) onEvent(b[i]);
  } finally {
    reader.close();
  }
}

/** Every event of a trace file, in order, calling `onEvent` for each; constant memory. */
export function scanTraceFile(path: string, onEvent: (event: ResetEvent) => void):
  { header: TraceHeader; trailer: TraceTrailer | null; damage: TraceDamage | null; count: number } {
  const reader = TraceReader.open(path);
  drain(reader, onEvent);
  return { header: reader.header, trailer: reader.trailer, damage: reader.damage, count: reader.eventCount };
}

function whole(reader: TraceReader): TraceFile {
  const events: ResetEvent[] = [];
  drain(reader, (e) => events.push(e));
  return { header: reader.header, events, trailer: reader.trailer, truncated: reader.damage !== null, damage: reader.damage };
}

/** A whole trace file in memory (tests, small files). */
export function readTraceFile(path: string): TraceFile {
  return whole(TraceReader.open(path));
}

/** The same as readTraceFile, over bytes already in memory. */
export function decodeTraceBytes(bytes: Uint8Array, source = '<trace>'): TraceFile {
  return whole(TraceReader.fromBytes(bytes, source));
}
