/**
 * `export --format parquet -o OUT`: every field of the JSON event as a typed
 * column (time TIMESTAMP_NS, integers BIGINT, strings VARCHAR, signals
 * VARCHAR[], nulls as nulls), in the JSON field order, compiled from
 * EVENT_SCHEMA. DuckDB (@duckdb/node-api) is the writer, and its COPY the
 * Parquet encoder (zstd).
 *
 * Events go to DuckDB as JSON lines, written by the `trace --json` encoder
 * (the fastest event encoder rstrace has, and JSON keeps null apart from ""
 * and [] and escapes every control character) into a file in a private 0700
 * directory, unlinked once open; one COPY then reads it with
 * read_json and explicit column types and writes the Parquet file row group
 * by row group, in the file's order. Nothing per event stays in memory:
 * DuckDB holds a row group at a time under MEMORY_LIMIT. Measured against
 * filling DuckDB data chunks from JS (the first version: a table of every
 * event, then dictionary joins and a sort), this is about twice the rate in a
 * third of the memory, which no longer grows with the input (bench/RESULTS.md,
 * "Parquet export"). A FIFO instead of the file would save the disk, but
 * DuckDB's JSON and CSV readers keep what they read from a pipe, so memory
 * would grow with the input again.
 */
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { EVENT_SCHEMA, type FieldSpec, type ResetEvent } from '../event.js';
import { RstraceError } from '../errors.js';
import { isEmptyFilter, matchesFilter, type EventFilter } from '../filter.js';
import { JsonLinesBuffer } from '../sinks/jsonl.js';
import { TraceSeries } from '../tracefile/inputs.js';
import type { ExportResult } from '../export.js';

/**
 * DuckDB's memory: it holds a whole row group (ROW_GROUP_ROWS rows, ~60 MB
 * of events at ~500 bytes each) while encoding it, next to the JSON reader's
 * buffers. Over the limit DuckDB fails rather than grow.
 */
const MEMORY_LIMIT = '256MB';
/**
 * One thread: the read and the encode run as one pipeline, in the file's
 * order. A second thread bought no wall time on a loaded 2-CPU host and cost
 * a third more CPU and 100 MB.
 */
const THREADS = 1;
/**
 * Rows per Parquet row group: DuckDB's default. 32,768 saved ~120 MB of
 * peak RSS but made the file 24% larger (3.55 bytes per storm event against 2.86).
 */
const ROW_GROUP_ROWS = 122_880;
/** JSON bytes gathered per write of the staging file. */
const WRITE_BYTES = 1 << 20;

/** Fields that hold a time: ISO-8601 text in JSON, a nanosecond timestamp in Parquet. */
const TIME_FIELDS: ReadonlySet<string> = new Set(['time']);

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** The type read_json gives a field, and the Parquet column made of it. */
function columnOf(f: FieldSpec): { readAs: string; select: string } {
  const q = quote(f.name);
  if (TIME_FIELDS.has(f.name)) return { readAs: 'VARCHAR', select: `CAST(${q} AS TIMESTAMP_NS) AS ${q}` };
  const readAs = f.type === 'integer' ? 'BIGINT' : f.type === 'string[]' ? 'VARCHAR[]' : 'VARCHAR';
  return { readAs, select: q };
}

/** The COPY that turns the staged JSON lines at `jsonl` into the Parquet file at `out`. */
export function parquetCopySql(jsonl: string, out: string): string {
  const cols = (EVENT_SCHEMA as readonly FieldSpec[]).map((f) => ({ name: f.name, ...columnOf(f) }));
  const columns = `{${cols.map((c) => `${sqlString(c.name)}: ${sqlString(c.readAs)}`).join(', ')}}`;
  // no detection: the types are the contract's, and a line that does not fit them is a bug, not a guess
  const read = `read_json(${sqlString(jsonl)}, format = 'newline_delimited', records = true, auto_detect = false, `
    + `convert_strings_to_integers = false, columns = ${columns})`;
  return `COPY (SELECT ${cols.map((c) => c.select).join(', ')} FROM ${read}) `
    + `TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`;
}

const SURROGATE_ESCAPE = Buffer.from('\\ud');
const REPLACEMENT_ESCAPE = Buffer.from('\\ufffd');

/**
 * JSON.stringify writes a lone UTF-16 surrogate (a JS string no UTF-8 can
 * hold) as the escape `\udXXX`, which DuckDB refuses as malformed JSON; each
 * becomes `\ufffd` in place (same length), the U+FFFD that TextEncoder would
 * make of it. Paired surrogates are written as UTF-8, never escaped, so every
 * such escape is a lone one. One native search per buffer finds none at all
 * in an ordinary trace.
 */
export function replaceLoneSurrogateEscapes(json: Buffer): void {
  for (let at = json.indexOf(SURROGATE_ESCAPE); at >= 0; at = json.indexOf(SURROGATE_ESCAPE, at + 1)) {
    const c = json[at + 3];
    if (!((c >= 0x38 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) continue; // \ud8-\udf: surrogates only
    let slashes = 0;
    for (let i = at - 1; i >= 0 && json[i] === 0x5c; i--) slashes++;
    if (slashes % 2 === 1) continue; // an escaped backslash followed by the text "ud..."
    REPLACEMENT_ESCAPE.copy(json, at);
  }
}

/** Creates `path` (mode 0600) or says why it cannot, before any work; DuckDB then writes into it. */
function claimOutput(path: string): void {
  try {
    closeSync(openSync(path, 'w', 0o600));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RstraceError(`cannot create ${path}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}`,
      'give -o a path in a directory you can write to', code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES' || code === 'ENOTDIR' ? 2 : 1);
  }
}

/**
 * Events into one Parquet file: add() each (the event may be reused by the
 * caller once it returns), then finish() writes the file.
 */
export class ParquetEventWriter {
  count = 0;
  private readonly lines = new JsonLinesBuffer(WRITE_BYTES);
  private fd: number | null;
  private closed = false;

  private constructor(private readonly out: string, private readonly stagedIn: string, fd: number) {
    this.fd = fd;
  }

  /** Claims `out` (mode 0600) at once, so that a bad path fails before any work. */
  static async create(out: string): Promise<ParquetEventWriter> {
    claimOutput(out);
    // The staged lines name processes and peers, like the trace: a file in a
    // directory only we can enter, unlinked (and the directory removed) as soon
    // as it is open, so that nothing is left behind even if the process is
    // killed. DuckDB reopens it through /proc/self/fd.
    const dir = mkdtempSync(join(tmpdir(), 'rstrace-parquet-'));
    try {
      const file = join(dir, 'events.jsonl');
      const fd = openSync(file, 'wx', 0o600);
      unlinkSync(file);
      return new ParquetEventWriter(out, dir, fd);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  add(e: ResetEvent): void {
    this.lines.write(e);
    this.count++;
    if (this.lines.full) this.flushLines();
  }

  /** Writes the file, then drops the staged lines. */
  async finish(): Promise<void> {
    try {
      this.flushLines();
      // no spill directory: a streaming COPY needs none, and over the limit it should fail, not fill a disk
      const db = await DuckDBInstance.create(':memory:', { memory_limit: MEMORY_LIMIT, threads: String(THREADS), temp_directory: '' });
      // a trace names processes and peers: whatever DuckDB creates stays private
      const umask = process.umask(0o077);
      try {
        const conn = await db.connect();
        try {
          await conn.run(parquetCopySql(`/proc/self/fd/${this.fd!}`, this.out));
        } finally {
          conn.closeSync();
        }
      } catch (err) {
        throw new RstraceError(`cannot write ${this.out}: ${(err as Error).message.split('\n')[0]}`,
          'free space on that file system (and in the temporary directory, TMPDIR) or write elsewhere', 1);
      } finally {
        process.umask(umask);
        db.closeSync();
      }
    } finally {
      this.close();
    }
  }

  /** Drops the staged events without writing; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
  }

  private flushLines(): void {
    const bytes = this.lines.bytes();
    replaceLoneSurrogateEscapes(bytes);
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(this.fd!, bytes, off, bytes.length - off);
    } catch (err) {
      throw new RstraceError(`cannot stage events for ${this.out} in ${this.stagedIn}: ${(err as Error).message}`,
        'free space in the temporary directory or point TMPDIR elsewhere', 1);
    }
    this.lines.reset();
  }
}

export async function exportParquet(paths: string | readonly string[], out: string, filter: EventFilter = {}): Promise<ExportResult> {
  const reader = TraceSeries.open(paths);
  const filtering = !isEmptyFilter(filter);
  let excluded = 0;
  let writer: ParquetEventWriter | null = null;
  try {
    const w = writer = await ParquetEventWriter.create(out);
    reader.forEachEvent((e) => {
      if (filtering && !matchesFilter(e, filter)) excluded++;
      else w.add(e);
    });
    await w.finish();
  } finally {
    writer?.close();
    reader.close();
  }
  return { events: writer.count, excluded, trailer: reader.trailer, damage: reader.damage, closedEarly: false, warnings: reader.warnings };
}
