/**
 * `trace -o FILE --rotate-size SIZE --rotate-keep N --rotate-every DURATION`,
 * as tcpdump's -C/-W: the trace goes into a series of files, each complete on
 * its own (header, batches, trailer with that file's counters), and the
 * oldest are removed beyond N.
 *
 * Naming: `-o DIR/NAME.EXT` writes `DIR/NAME-YYYYMMDDTHHMMSSZ-SEQ.EXT`, the
 * UTC time the file was opened and a 6-digit sequence number that goes on
 * from the highest one already in DIR (a restarted agent continues the
 * series), so the names sort in time order and the sequence decides which
 * files are the oldest. `report` and `export` order by the headers' start
 * times, not by names.
 *
 * A rotation happens between two batches, so no record is lost or split. A
 * batch that may hold the first half of a phantom reset pair (see
 * phantom-reset-filter.ts) keeps the next batch in the same file, where the
 * reader pairs them as live did.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { FLAG, KIND, OFFSETS, RECORD_SIZE } from '../decode.js';
import type { OwnerLookup, ProcOwner } from '../enrich/proc.js';
import { NO_CGROUPS, type CgroupLookup } from '../enrich/cgroup.js';
import type { NetnsCheck } from '../completeness/check.js';
import type { TraceCounters } from '../event.js';
import { RstraceError } from '../errors.js';
import { TCP_STATE } from '../kernel/names.js';
import type { TraceHeaderInput } from './format.js';
import { TraceFileWriter } from './writer.js';

export interface RotationPolicy {
  /** start a new file once this many bytes are in the current one */
  sizeBytes?: number;
  /** start a new file after this many milliseconds */
  everyMs?: number;
  /** files kept, the current one included; older ones are removed (undefined: all kept) */
  keep?: number;
}

/** What `trace` writes its records to: one file, or a rotating series. */
export interface TraceOutput {
  readonly owners: OwnerLookup;
  readonly cgroups: CgroupLookup;
  writeBatch(batch: Uint8Array, records: number): void;
  startAutoFlush(ms?: number, onError?: (err: RstraceError) => void): void;
  /** `kernel`: the completeness check of the whole trace, for the (last) trailer */
  close(counters: TraceCounters, kernel?: readonly NetnsCheck[] | null): void;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 };
/** A file must hold its header and at least a batch or two. */
export const MIN_ROTATE_BYTES = 64 << 10;

/** `64M`, `512K`, `1G`, `1000000` (bytes; K, M, G are powers of 1024, an optional `B`/`iB` after them). */
export function parseSize(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Math.round(Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()]) : NaN;
  if (!Number.isSafeInteger(n) || n < MIN_ROTATE_BYTES) {
    throw new RstraceError(`${option}: '${text}' is not valid`, `give a size of at least 64K, e.g. ${option} 64M (K, M, G: KiB, MiB, GiB)`, 2);
  }
  return n;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `15m`, `1h`, `1d` (a bare number is seconds); at least one second. */
export function parseDuration(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2] || 's'] : NaN;
  if (!Number.isFinite(ms) || ms < 1000) {
    throw new RstraceError(`${option}: '${text}' is not valid`, `give a duration of at least 1s, e.g. ${option} 1h (s, m, h, d)`, 2);
  }
  return ms;
}

/** The series of `-o PATH`: how its files are named and recognised. */
export class RotationNames {
  readonly dir: string;
  private readonly stem: string;
  private readonly ext: string;
  private readonly pattern: RegExp;

  constructor(path: string) {
    this.dir = dirname(path);
    this.ext = extname(path);
    this.stem = basename(path, this.ext);
    const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.pattern = new RegExp(`^${quote(this.stem)}-\\d{8}T\\d{6}Z-(\\d{6,})${quote(this.ext)}$`);
  }

  /** The name of file number `seq`, opened at `when`. */
  name(when: Date, seq: number): string {
    const t = when.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    return join(this.dir, `${this.stem}-${t}-${String(seq).padStart(6, '0')}${this.ext}`);
  }

  /** The sequence number of a file name of this series, or null for any other name. */
  seqOf(name: string): number | null {
    const m = this.pattern.exec(name);
    return m ? Number(m[1]) : null;
  }

  /** The files of this series now in the directory, oldest (lowest sequence) first. */
  existing(): { path: string; seq: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: { path: string; seq: number }[] = [];
    for (const n of names) {
      const seq = this.seqOf(n);
      if (seq !== null) out.push({ path: join(this.dir, n), seq });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }
}

/** Batches that stay with the next one rather than end a file (phantom-reset-filter.ts's candidates). */
function mayHoldPhantom(batch: Uint8Array, records: number): boolean {
  for (let o = 0, i = 0; i < records; i++, o += RECORD_SIZE) {
    if (batch[o + OFFSETS.kind] !== KIND.RECEIVED) continue;
    const state = batch[o + OFFSETS.state];
    if ((state === TCP_STATE.FIN_WAIT1 || state === TCP_STATE.FIN_WAIT2)
      && ((batch[o + OFFSETS.flags] | (batch[o + OFFSETS.flags + 1] << 8)) & FLAG.DEAD) !== 0) return true;
  }
  return false;
}

/** Batches a due rotation waits for a batch without phantom candidates, at most. */
const MAX_DEFERRED = 64;

/**
 * The rotating series. `totals` gives the tracer's counters since the trace
 * started; each trailer gets the growth of lost and filtered during its file
 * and the records written into it as delivered, so that the files' trailers
 * add up to the trace's totals.
 */
export class RotatingTraceWriter implements TraceOutput {
  readonly owners: OwnerLookup;
  readonly cgroups: CgroupLookup;
  private readonly names: RotationNames;
  private current: TraceFileWriter;
  private seq: number;
  private openedAt = Date.now();
  private inFile = 0;
  private base: TraceCounters;
  private due = false;
  private deferred = 0;
  private lastMayHoldPhantom = false;
  private timer: NodeJS.Timeout | null = null;
  private pendingError: RstraceError | null = null;
  private closed = false;
  /** every file this writer made, in order */
  readonly files: string[] = [];

  constructor(path: string, private readonly header: TraceHeaderInput, private readonly live: OwnerLookup,
    private readonly policy: RotationPolicy, private readonly totals: () => TraceCounters,
    private readonly liveCgroups: CgroupLookup = NO_CGROUPS) {
    if (policy.keep !== undefined && policy.keep < 1) throw new RstraceError(`--rotate-keep: '${policy.keep}' is not valid`, 'keep at least 1 file', 2);
    this.names = new RotationNames(path);
    const last = this.names.existing().pop();
    this.seq = last ? last.seq : 0;
    this.base = { delivered: 0, lost: 0, filtered: 0 }; // the trace starts from zero; totals() is asked at rotations
    this.current = this.openNext(header.startTime);
    // the pipeline asks the current file's recorder, so that live and file attribute alike
    this.owners = { ownerOf: (ino: number): ProcOwner | null => this.current.owners.ownerOf(ino) };
    this.cgroups = { nameOf: (id: number) => this.current.cgroups.nameOf(id) };
  }

  writeBatch(batch: Uint8Array, records: number): void {
    if (this.closed) return;
    if (this.due && (!this.lastMayHoldPhantom || ++this.deferred > MAX_DEFERRED)) this.rotate();
    this.current.writeBatch(batch, records);
    this.inFile += Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
    if (!this.due && this.policy.sizeBytes !== undefined && this.current.bytes >= this.policy.sizeBytes) this.due = true;
    // only a due rotation needs to know: the storm path does not look at records otherwise
    this.lastMayHoldPhantom = this.due && mayHoldPhantom(batch, records);
  }

  /** Flushes every `ms`, and starts the next file when --rotate-every says so, between batches. */
  startAutoFlush(ms = 1000, onError?: (err: RstraceError) => void): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      try {
        if (this.policy.everyMs !== undefined && Date.now() - this.openedAt >= this.policy.everyMs) {
          this.due = true;
          if (!this.lastMayHoldPhantom) this.rotate();
        }
        this.current.flush();
      } catch (err) {
        const e = err instanceof RstraceError ? err : new RstraceError(String(err), 'check the trace directory and its file system', 1);
        if (onError) onError(e); else this.pendingError = e;
      }
    }, Math.min(ms, this.policy.everyMs ?? ms));
    this.timer.unref();
  }

  /** The completeness check covers the whole trace: it goes in the last file's trailer only, so that sums over the series count it once. */
  close(counters: TraceCounters, kernel: readonly NetnsCheck[] | null = null): void {
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    if (this.closed) return;
    this.closed = true;
    this.current.close(this.fileCounters(counters), kernel);
    if (this.pendingError) { const e = this.pendingError; this.pendingError = null; throw e; }
  }

  private fileCounters(now: TraceCounters): TraceCounters {
    return { delivered: this.inFile, lost: Math.max(0, now.lost - this.base.lost), filtered: Math.max(0, now.filtered - this.base.filtered) };
  }

  private rotate(): void {
    const now = this.totals();
    this.current.close(this.fileCounters(now));
    this.base = { ...now };
    this.inFile = 0;
    this.due = false;
    this.deferred = 0;
    this.lastMayHoldPhantom = false;
    this.current = this.openNext(new Date().toISOString());
  }

  private openNext(startTime: string): TraceFileWriter {
    const at = new Date(startTime);
    let w: TraceFileWriter | null = null;
    for (let tries = 0; w === null; tries++) {
      const path = this.names.name(at, ++this.seq);
      try {
        w = TraceFileWriter.open(path, { ...this.header, startTime }, this.live, this.liveCgroups, true);
        this.files.push(path);
      } catch (err) {
        if (tries > 100 || !(err instanceof RstraceError && err.message.includes('EEXIST'))) throw err;
      }
    }
    this.openedAt = Date.now();
    this.removeOldest();
    return w;
  }

  private removeOldest(): void {
    const keep = this.policy.keep;
    if (keep === undefined) return;
    const files = this.names.existing();
    for (const f of files.slice(0, Math.max(0, files.length - keep))) {
      try { unlinkSync(f.path); } catch { /* already gone */ }
    }
  }
}

/** `-o PATH`, with or without rotation. */
export function openTraceOutput(path: string, header: TraceHeaderInput, live: OwnerLookup,
  policy: RotationPolicy | undefined, totals: () => TraceCounters, liveCgroups: CgroupLookup = NO_CGROUPS): TraceOutput {
  if (policy && (policy.sizeBytes !== undefined || policy.everyMs !== undefined)) {
    return new RotatingTraceWriter(path, header, live, policy, totals, liveCgroups);
  }
  return TraceFileWriter.open(path, header, live, liveCgroups);
}
