/**
 * `export --format parquet -o OUT`: every field of the JSON event as a typed
 * column (time TIMESTAMP_NS, integers BIGINT, strings VARCHAR, signals
 * VARCHAR[], nulls as nulls), in the JSON field order, compiled from
 * EVENT_SCHEMA. DuckDB (@duckdb/node-api) is the writer: events go through
 * its appender into an in-memory table (numbers staged as DOUBLE and the time
 * as its ISO text, exact for every value an event holds), then DuckDB's own
 * COPY writes the Parquet file, zstd-compressed, in row groups.
 */
import { closeSync, openSync } from 'node:fs';
import { DuckDBInstance, LIST, VARCHAR, type DuckDBAppender, type DuckDBConnection, type DuckDBListType } from '@duckdb/node-api';
import { EVENT_SCHEMA, type FieldSpec, type ResetEvent } from '../event.js';
import { RstraceError } from '../errors.js';
import { isEmptyFilter, matchesFilter, type EventFilter } from '../filter.js';
import { TraceSeries } from '../tracefile/inputs.js';
import type { ExportResult } from '../export.js';

/** Fields that hold a time: ISO-8601 text in JSON, a nanosecond timestamp in Parquet. */
const TIME_FIELDS: ReadonlySet<string> = new Set(['time']);

interface Column {
  readonly name: string;
  /** the staging table's type */
  readonly staged: string;
  /** the Parquet column, from the staged one */
  readonly select: string;
  readonly append: (a: DuckDBAppender, v: unknown) => void;
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function columnOf(f: FieldSpec, list: DuckDBListType): Column {
  const q = quote(f.name);
  const orNull = (append: (a: DuckDBAppender, v: never) => void) => (a: DuckDBAppender, v: unknown): void => {
    if (v === null || v === undefined) a.appendNull(); else append(a, v as never);
  };
  if (TIME_FIELDS.has(f.name)) {
    return { name: f.name, staged: 'VARCHAR', select: `CAST(${q} AS TIMESTAMP_NS) AS ${q}`, append: orNull((a, v: string) => a.appendVarchar(v)) };
  }
  switch (f.type) {
    case 'integer':
      // every integer of an event is below 2^53, so a double carries it exactly and needs no BigInt per value
      return { name: f.name, staged: 'DOUBLE', select: `CAST(${q} AS BIGINT) AS ${q}`, append: orNull((a, v: number) => a.appendDouble(v)) };
    case 'string[]':
      return { name: f.name, staged: 'VARCHAR[]', select: q, append: orNull((a, v: readonly string[]) => a.appendList(v, list)) };
    case 'string':
      return { name: f.name, staged: 'VARCHAR', select: q, append: orNull((a, v: string) => a.appendVarchar(v)) };
  }
}

/** The columns, in the JSON field order. */
export function parquetColumns(): readonly Column[] {
  const list = LIST(VARCHAR);
  return (EVENT_SCHEMA as readonly FieldSpec[]).map((f) => columnOf(f, list));
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

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
  private readonly names: (keyof ResetEvent)[];
  private readonly appends: Column['append'][];
  count = 0;
  private closed = false;

  private constructor(private readonly out: string, private readonly db: DuckDBInstance, private readonly conn: DuckDBConnection,
    private readonly appender: DuckDBAppender, private readonly columns: readonly Column[]) {
    this.names = columns.map((c) => c.name as keyof ResetEvent);
    this.appends = columns.map((c) => c.append);
  }

  /** Claims `out` (mode 0600) at once, so that a bad path fails before any work. */
  static async create(out: string): Promise<ParquetEventWriter> {
    claimOutput(out);
    const db = await DuckDBInstance.create(':memory:');
    try {
      const conn = await db.connect();
      const columns = parquetColumns();
      await conn.run(`CREATE TABLE events (${columns.map((c) => `${quote(c.name)} ${c.staged}`).join(', ')})`);
      return new ParquetEventWriter(out, db, conn, await conn.createAppender('events'), columns);
    } catch (err) {
      db.closeSync();
      throw err;
    }
  }

  add(e: ResetEvent): void {
    const { appender, appends, names } = this;
    for (let i = 0; i < appends.length; i++) appends[i](appender, e[names[i]]);
    appender.endRow();
    this.count++;
  }

  /** Writes the file and frees DuckDB. */
  async finish(): Promise<void> {
    try {
      this.appender.flushSync();
      this.appender.closeSync();
      // a trace names processes and peers: whatever DuckDB creates stays private
      const umask = process.umask(0o077);
      try {
        await this.conn.run(`COPY (SELECT ${this.columns.map((c) => c.select).join(', ')} FROM events) TO ${sqlString(this.out)} (FORMAT parquet, COMPRESSION zstd)`);
      } catch (err) {
        throw new RstraceError(`cannot write ${this.out}: ${(err as Error).message.split('\n')[0]}`, 'free space on that file system or write elsewhere', 1);
      } finally {
        process.umask(umask);
      }
    } finally {
      this.close();
    }
  }

  /** Frees DuckDB without writing; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.closeSync();
    this.db.closeSync();
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
