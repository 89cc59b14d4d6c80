/**
 * `trace -o FILE`: batches of kernel records, as the addon delivered them,
 * delta-coded into one reusable buffer and written with writeSync at least
 * once a second. Per record the writer reads its words once and builds no
 * object and no string; msgpackr encodes only the rare control values
 * (header, owners, trailer).
 */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { RECORD_SIZE } from '../decode.js';
import type { TraceCounters } from '../event.js';
import { NO_CGROUPS, type CgroupLookup } from '../enrich/cgroup.js';
import type { OwnerLookup } from '../enrich/proc.js';
import { RstraceError } from '../errors.js';
import {
  TAG_BATCH, TAG_CGROUPS, TAG_END, TAG_FORGET_CGROUPS, TAG_FORGET_OWNERS, TAG_OWNERS, TRACE_FORMAT_VERSION, TRACE_MAGIC, layoutFingerprint,
  type OptionValue, type TraceHeaderInput,
} from './format.js';
import { CgroupRecorder, OwnerRecorder } from './owners.js';
import { encodeChecks } from './kernel-check.js';
import type { NetnsCheck } from '../completeness/check.js';
import { MAX_CODED_RECORD, RecordRefs, encodeRecords, recordWords } from './records.js';

/** Flush when this much is buffered, whatever the timer says. */
const FLUSH_BYTES = 1 << 20;

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(err);
}

function plainOptions(options: Record<string, unknown>): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || typeof v === 'function') continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof x));
    else out[k] = String(v);
  }
  return out;
}

export class TraceFileWriter {
  // useRecords:false keeps the output plain msgpack, readable by any msgpack tool.
  private readonly packr = new Packr({ useRecords: false, variableMapSize: true });
  private readonly refs = new RecordRefs();
  private readonly scratch = { buf: new Uint32Array(0) };
  private out = Buffer.allocUnsafe(FLUSH_BYTES * 2);
  private pos = 0;
  /** bytes already written to the file */
  private written = 0;
  /** the coded records of one batch */
  private coded = Buffer.allocUnsafe(8192 * MAX_CODED_RECORD);
  private timer: NodeJS.Timeout | null = null;
  private pendingError: RstraceError | null = null;
  private fd: number | null;
  /** hand this to the live Pipeline as its `proc`, so live and file attribute alike */
  readonly owners: OwnerRecorder;
  /** hand this to the live Pipeline as its `cgroups`, so live and file name cgroups alike */
  readonly cgroups: CgroupRecorder;

  private constructor(private readonly path: string, fd: number, live: OwnerLookup, liveCgroups: CgroupLookup) {
    this.fd = fd;
    this.owners = new OwnerRecorder(live);
    this.cgroups = new CgroupRecorder(liveCgroups);
  }

  /** Create (or truncate; `exclusive`: refuse an existing file) `path`, mode 0600, and write the header at once. */
  static open(path: string, header: TraceHeaderInput, live: OwnerLookup = { ownerOf: () => null },
    liveCgroups: CgroupLookup = NO_CGROUPS, exclusive = false): TraceFileWriter {
    let fd: number;
    try {
      fd = openSync(path, exclusive ? 'wx' : 'w', 0o600);
    } catch (err) {
      throw new RstraceError(`cannot create trace file ${path}: ${errnoText(err)}`,
        'give -o a path in a directory that exists and that you can write to', 1);
    }
    // A trace names processes and peers: keep it private even if the file already existed.
    try { fchmodSync(fd, 0o600); } catch { /* not our file to chmod: keep its mode */ }
    const w = new TraceFileWriter(path, fd, live, liveCgroups);
    w.push([TRACE_MAGIC, TRACE_FORMAT_VERSION, {
      host: String(header.host), kernel: String(header.kernel), bootToWallNs: String(header.bootToWallNs),
      startTime: String(header.startTime), options: plainOptions(header.options),
      recordSize: RECORD_SIZE, layout: layoutFingerprint(), names: header.names,
      filter: header.filter ?? null, limit: header.limit ?? null,
    }]);
    w.flush();
    return w;
  }

  /**
   * One batch exactly as the addon delivered it. Its /proc owners and cgroup names go first,
   * then the records; the batch stays one value so that the reader replays
   * the same batch boundaries (the phantom-reset filter depends on them).
   */
  writeBatch(batch: Uint8Array, records: number): void {
    if (this.fd === null) return; // late batches after close(): the trailer's counts are final
    const n = Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
    if (n <= 0) return;
    const { forget, changes } = this.owners.resolve(batch, n);
    if (forget) this.push([TAG_FORGET_OWNERS]);
    if (changes.length) this.push([TAG_OWNERS, ...changes]);
    const cg = this.cgroups.resolve(batch, n);
    if (cg.forget) this.push([TAG_FORGET_CGROUPS]);
    if (cg.changes.length) this.push([TAG_CGROUPS, ...cg.changes]);
    const most = n * MAX_CODED_RECORD;
    if (this.coded.length < most) this.coded = Buffer.allocUnsafe(most);
    const end = encodeRecords(this.refs, recordWords(batch, n, this.scratch), n, this.coded, 0);
    // msgpackr frames the payload: one copy of ~8 bytes a record, too little to be worth hand-written framing
    this.push([TAG_BATCH, this.coded.subarray(0, end)]);
    if (this.pos >= FLUSH_BYTES) this.flush();
  }

  /** Write what is buffered, synchronously. */
  flush(): void {
    if (this.pendingError) { const e = this.pendingError; this.pendingError = null; throw e; }
    if (this.fd === null || this.pos === 0) return;
    const data = this.out.subarray(0, this.pos);
    this.pos = 0; // the view stays valid: nothing is written before writeSync returns
    try {
      for (let off = 0; off < data.length;) off += writeSync(this.fd, data, off, data.length - off);
      this.written += data.length;
    } catch (err) {
      throw new RstraceError(`cannot write trace file ${this.path}: ${errnoText(err)}`,
        'free space on that file system or write the trace elsewhere with -o', 1);
    }
  }

  /**
   * Flush every `ms` from an unref'd timer (it never keeps the process alive).
   * A write error there goes to `onError`, or else is thrown by the next
   * flush/close call.
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

  /** The file's size once what is buffered is written: what rotation by size measures. */
  get bytes(): number {
    return this.written + this.pos;
  }

  /** Write the trailer (with the completeness check when there is one) and close the file. Idempotent. */
  close(counters: TraceCounters, kernel: readonly NetnsCheck[] | null = null): void {
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    if (this.fd === null) return;
    const end: unknown[] = [TAG_END, counters.delivered, counters.lost, counters.filtered, new Date().toISOString()];
    if (kernel) end.push(encodeChecks(kernel));
    this.push(end);
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private push(value: unknown): void {
    const bytes = this.packr.pack(value);
    this.room(bytes.length);
    this.out.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private room(n: number): void {
    if (this.pos + n <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + n));
    this.out.copy(next, 0, 0, this.pos);
    this.out = next;
  }
}
