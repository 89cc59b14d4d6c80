/**
 * `rstrace export`: a trace file as JSON lines (byte for byte what
 * `trace --json` printed live) or CSV (RFC 4180), for jq, DuckDB and
 * spreadsheets. Streams the file batch by batch, so memory stays flat.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { fieldAccess, JsonLinesBuffer } from './sinks/jsonl.js';
import { EVENT_FIELDS, EVENT_SCHEMA, type ResetEvent } from './event.js';
import { RstraceError } from './errors.js';
import { matchesFilter, isEmptyFilter, type EventFilter } from './filter.js';
import { PROGRESS_EVERY_EVENTS, type ProgressBar } from './progress.js';
import type { TraceDamage, TraceTrailer } from './tracefile/format.js';
import { TraceSeries } from './tracefile/inputs.js';

/** parquet: a file of typed columns, written by src/export/parquet.ts */
export type ExportFormat = 'jsonl' | 'csv' | 'parquet';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv', 'parquet'];
/** The formats written as a stream of lines (to stdout or a file). */
export type LineFormat = Exclude<ExportFormat, 'parquet'>;

export function parseFormat(text: string): ExportFormat {
  if ((EXPORT_FORMATS as readonly string[]).includes(text)) return text as ExportFormat;
  throw new RstraceError(`--format: unknown format '${text}'`, `give one of ${EXPORT_FORMATS.join(', ')}`, 2);
}

// ---------------------------------------------------------------------------
// Line encoders. Both are compiled from EVENT_SCHEMA so that a field added to
// the contract shows up here without an edit, and each field is a plain
// property load (a generic loop over field names costs several times more,
// and `export` is meant to run at a million events a second).

type Encode = (e: ResetEvent) => string;

/** Remembers the encoding of strings that repeat (comm, addresses, keys); bounded. */
function cached(encode: (s: string) => string, limit = 50_000): (s: string) => string {
  let cache = new Map<string, string>();
  return (s) => {
    let out = cache.get(s);
    if (out === undefined) {
      if (cache.size >= limit) cache = new Map();
      out = encode(s);
      cache.set(s, out);
    }
    return out;
  };
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? '' + v : '';
  if (Array.isArray(v)) return csvField(v.join(';')); // signals: names without ';'
  const s = String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function csvHeader(): string {
  return EVENT_FIELDS.map(csvField).join(',');
}

export function csvLineEncoder(): Encode {
  const str = cached(csvField);
  const value = (v: unknown): string => (typeof v === 'string' ? str(v) : csvField(v));
  const parts = EVENT_SCHEMA.map((f) => `v(${fieldAccess(f)})`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('v', `return function (e) { return ${parts.join(' + "," + ')}; };`)(value) as Encode;
}

// ---------------------------------------------------------------------------
// Output

export interface ExportOutput {
  write(chunk: string | Uint8Array): Promise<void>;
  /**
   * Writes all of `chunk` before returning (blocking while the reader is
   * slow), so the caller may refill it at once: what lets `export` encode
   * into one reused buffer while the reader walks its reused event.
   */
  writeSync?(chunk: Uint8Array): void;
  end(): Promise<void>;
  /** the reader went away (`| head`): stop quietly */
  readonly closed: boolean;
}

/** Sleeps the thread: the only way to wait for a non-blocking fd inside a synchronous walk. */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Standard output by its fd, written synchronously. A pipe gets a blocking
 * descriptor of its own (/proc/self/fd/1 opens the pipe anew): the one Node
 * shares is made non-blocking once process.stdout is touched, and a blocking
 * write is how a slow reader (`| jq`) holds us back without memory growing.
 * Elsewhere EAGAIN is waited out with short sleeps.
 */
function stdoutFdOutput(): ExportOutput {
  let fd = 1;
  let own = false;
  try {
    if (fstatSync(1).isFIFO()) { fd = openSync('/proc/self/fd/1', 'w'); own = true; }
  } catch { /* keep fd 1 */ }
  let closed = false;
  const fail = (err: Error): never => {
    throw new RstraceError(`cannot write to standard output: ${err.message}`, 'check where the output goes, or use -o FILE', 1);
  };
  const writeAll = (bytes: Uint8Array): void => {
    let waitMs = 0.05;
    for (let off = 0; off < bytes.length && !closed;) {
      try {
        off += writeSync(fd, bytes, off, bytes.length - off);
        waitMs = 0.05;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') closed = true;
        else if (code === 'EAGAIN') { Atomics.wait(pause, 0, 0, waitMs); waitMs = Math.min(waitMs * 2, 10); }
        else fail(err as Error);
      }
    }
  };
  return {
    get closed() { return closed; },
    async write(chunk) { writeAll(typeof chunk === 'string' ? Buffer.from(chunk) : chunk); },
    writeSync: writeAll,
    async end() { if (own) { own = false; closeSync(fd); } },
  };
}

/**
 * stdout, with back-pressure; EPIPE (the reader exited) ends the export
 * quietly. The process's own stdout is written by fd (stdoutFdOutput); another
 * stream through its write() and 'drain'.
 */
export function stdoutOutput(stream?: NodeJS.WritableStream & { writableLength?: number }): ExportOutput {
  if (stream === undefined) return stdoutFdOutput();
  let closed = false;
  let failure: Error | null = null;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
    else failure = err;
  });
  const check = (): void => {
    if (failure) {
      throw new RstraceError(`cannot write to standard output: ${failure.message}`, 'check where the output goes, or use -o FILE', 1);
    }
  };
  const drained = (): Promise<void> => new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done); stream.off('error', done); stream.off('close', done);
      resolve();
    };
    stream.on('drain', done); stream.on('error', done); stream.on('close', done);
  });
  return {
    get closed() { return closed; },
    async write(chunk) {
      check();
      if (closed) return;
      if (!stream.write(chunk)) await drained();
      check();
    },
    async end() {
      check();
    },
  };
}

const BAD_OUTPUT_PATH: Readonly<Record<string, string>> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
};

/** A file, created 0600 like the trace it comes from (it names the same processes and peers). */
export function fileOutput(path: string): ExportOutput {
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o600);
  } catch (err) {
    const why = BAD_OUTPUT_PATH[(err as NodeJS.ErrnoException).code ?? ''];
    // a path that cannot be a file here is bad input (exit 2); anything else failed at run time
    if (why) throw new RstraceError(`cannot create ${path}: ${why}`, 'give -o a path in a directory you can write to', 2);
    throw new RstraceError(`cannot create ${path}: ${(err as Error).message}`, 'check the file system, or write elsewhere', 1);
  }
  let open = true;
  const writeAll = (bytes: Uint8Array): void => {
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      throw new RstraceError(`cannot write ${path}: ${(err as Error).message}`, 'free space on that file system or write elsewhere', 1);
    }
  };
  return {
    closed: false,
    async write(chunk) { writeAll(typeof chunk === 'string' ? Buffer.from(chunk) : chunk); },
    writeSync: writeAll,
    async end() {
      if (open) { open = false; closeSync(fd); }
    },
  };
}

// ---------------------------------------------------------------------------

export interface ExportResult {
  events: number;
  /** events in the file that the filter left out */
  excluded: number;
  trailer: TraceTrailer | null;
  damage: TraceDamage | null;
  /** stopped early because the reader of stdout went away */
  closedEarly: boolean;
  /** one line each for stderr: files skipped or damaged */
  warnings: string[];
}

/** Bytes gathered per write: few system calls, and still small next to the file being read. */
const WRITE_BYTES = 1 << 20;

export async function exportTrace(path: string | readonly string[], format: LineFormat, output: ExportOutput | (() => ExportOutput),
  filter: EventFilter = {}, progress: ProgressBar | null = null): Promise<ExportResult> {
  const reader = TraceSeries.open(path);
  let sinceTick = 0;
  const tick = progress ? (events: number): void => {
    sinceTick += events;
    if (sinceTick >= PROGRESS_EVERY_EVENTS) { sinceTick = 0; progress.update(reader.bytesRead); }
  } : null;
  let readerOpen = true;
  // closing ends the reader's walk early too (`| head`); its file is closed once
  const closeReader = (): void => {
    if (readerOpen) { readerOpen = false; reader.close(); }
  };
  let out: ExportOutput;
  try {
    out = typeof output === 'function' ? output() : output;
  } catch (err) {
    closeReader();
    throw err;
  }
  const filtering = !isEmptyFilter(filter);
  let events = 0;
  let excluded = 0;
  try {
    if (format === 'jsonl') {
      // the live --json encoder itself, so the two cannot differ
      const lines = new JsonLinesBuffer(WRITE_BYTES);
      const writeSync = out.writeSync;
      if (writeSync) {
        // The reader's callback walk hands over its one reused event, and the
        // buffer is written out before it is refilled: nothing per event is
        // allocated or kept.
        const o = out;
        if (!o.closed) {
          reader.forEachEvent((e, ms, subNs) => {
            tick?.(1);
            if (filtering && !matchesFilter(e, filter)) { excluded++; return; }
            lines.writeAt(e, ms, subNs);
            events++;
            if (lines.full) {
              writeSync(lines.bytes());
              lines.reset();
              if (o.closed) closeReader();
            }
          });
        }
        if (!out.closed && lines.length > 0) writeSync(lines.bytes());
      } else {
        // a stream keeps what it is given until written: each chunk is its own
        for (let batch = reader.nextBatch(); batch && !out.closed; batch = reader.nextBatch()) {
          tick?.(batch.length);
          for (let i = 0; i < batch.length; i++) {
            const e = batch[i];
            if (filtering && !matchesFilter(e, filter)) { excluded++; continue; }
            lines.write(e);
            events++;
          }
          if (lines.full) await out.write(lines.take());
        }
        if (!out.closed && lines.length > 0) await out.write(lines.take());
      }
    } else {
      await exportCsv(reader, out, tick, (e) => {
        if (filtering && !matchesFilter(e, filter)) { excluded++; return false; }
        events++;
        return true;
      });
    }
    await out.end();
  } finally {
    progress?.end();
    closeReader();
  }
  return { events, excluded, trailer: reader.trailer, damage: reader.damage, closedEarly: out.closed, warnings: reader.warnings };
}

/** CSV rows (CRLF ends, RFC 4180) encoded into one reused byte buffer, written when it fills. */
async function exportCsv(reader: Pick<TraceSeries, 'nextBatch'>, out: ExportOutput, tick: ((events: number) => void) | null,
  keep: (e: ResetEvent) => boolean): Promise<void> {
  const encode = csvLineEncoder();
  const eol = '\r\n';
  const buf = Buffer.allocUnsafe(WRITE_BYTES);
  let used = 0;
  // an own copy for each write: stdout may still hold the previous chunk when we refill
  const flush = async (): Promise<void> => {
    if (used > 0) await out.write(Uint8Array.prototype.slice.call(buf, 0, used));
    used = 0;
  };
  await out.write(csvHeader() + eol);
  for (let batch = reader.nextBatch(); batch && !out.closed; batch = reader.nextBatch()) {
    tick?.(batch.length);
    for (let i = 0; i < batch.length && !out.closed; i++) {
      const e = batch[i];
      if (!keep(e)) continue;
      const line = encode(e) + eol;
      // 3 bytes per UTF-16 unit is the most UTF-8 can need
      if (used + line.length * 3 > WRITE_BYTES) {
        await flush();
        if (line.length * 3 > WRITE_BYTES) { await out.write(line); continue; }
      }
      used += buf.write(line, used);
    }
  }
  if (!out.closed) await flush();
}
