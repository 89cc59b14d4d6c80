/**
 * `export --format parquet -o OUT`: every field of the JSON event as a typed
 * column (time TIMESTAMP_NS, integers BIGINT, strings VARCHAR, signals
 * VARCHAR[], nulls as nulls), in the JSON field order, compiled from
 * EVENT_SCHEMA. DuckDB (@duckdb/node-api) is the writer, and its COPY the
 * Parquet encoder (zstd, row groups).
 *
 * Events reach DuckDB in data chunks of typed vectors, filled from
 * JavaScript with no native call per value: a call per value (DuckDB's
 * appender) costs more than everything else an event needs. So numbers are
 * staged as DOUBLE (exact for every integer an event holds), the time as
 * epoch seconds and nanoseconds, repeated strings as ids into a dictionary per
 * column (kinds, addresses, names repeat: a storm has a handful), and only
 * strings unique to an event (the cookie) as text. A null number is staged
 * as NaN and a null string as id -1 (no dictionary row), because marking a
 * value invalid in a vector costs BigInt arithmetic per value from then on.
 * The COPY turns ids back into strings and restores the types and the nulls,
 * in the events' order.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DOUBLE, DuckDBDataChunk, DuckDBInstance, INTEGER, VARCHAR,
  type DuckDBAppender, type DuckDBConnection, type DuckDBType, type DuckDBVector,
} from '@duckdb/node-api';
import { EVENT_SCHEMA, type FieldSpec, type ResetEvent } from '../event.js';
import { RstraceError } from '../errors.js';
import { isEmptyFilter, matchesFilter, type EventFilter } from '../filter.js';
import { TraceSeries } from '../tracefile/inputs.js';
import type { ExportResult } from '../export.js';

/** DuckDB's memory before it spills to disk: the staged events, the joins and the sort of the COPY. */
const MEMORY_LIMIT = '512MB';

/** Fields that hold a time: ISO-8601 text in JSON, a nanosecond timestamp in Parquet. */
const TIME_FIELDS: ReadonlySet<string> = new Set(['time']);
/** Joins the items of a string[] field into one dictionary entry; no signal name holds it. */
const LIST_SEP = '\u0001';

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Repeated strings of one column -> small ids; the table goes to DuckDB at the end. */
class Dictionary {
  readonly ids = new Map<string, number>();
  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) { id = this.ids.size; this.ids.set(s, id); }
    return id;
  }
}

type VectorOf = (DuckDBVector<number> | DuckDBVector<string>);

interface Column {
  readonly name: string;
  /** staging columns: name and type */
  readonly staged: readonly { name: string; type: DuckDBType; sql: string }[];
  /** its dictionary, for `dict_N` */
  readonly dictionary?: Dictionary;
  /** the Parquet column from the staged ones (`e` the staging table, `dN` its dictionary) */
  select(dict: string): string;
  /** one value into row `row` of the staging vectors */
  put(vectors: readonly VectorOf[], row: number, v: unknown): void;
}

/** ISO-8601 UTC time with up to 9 fractional digits -> [epoch seconds, ns]; the seconds of the last time are remembered. */
class TimeSplitter {
  private lastPrefix = '';
  private lastSec = 0;
  split(text: string): [number, number] {
    const prefix = text.slice(0, 19);
    if (prefix !== this.lastPrefix) {
      const sec = Date.parse(`${prefix}Z`) / 1000;
      if (!Number.isFinite(sec) || text.charCodeAt(text.length - 1) !== 90 /* Z */) {
        throw new RstraceError(`event time '${text.slice(0, 40)}' is not ISO-8601 UTC`, 'this is a bug in rstrace; please report it', 1);
      }
      this.lastPrefix = prefix;
      this.lastSec = sec;
    }
    const frac = text.length > 21 ? text.slice(20, -1) : '';
    return [this.lastSec, frac === '' ? 0 : Number(frac.padEnd(9, '0'))];
  }
}

function columnOf(f: FieldSpec, at: number): Column {
  const q = quote(f.name);
  const c = (suffix: string): string => quote(`${f.name}${suffix}`);
  if (TIME_FIELDS.has(f.name)) {
    const times = new TimeSplitter();
    return {
      name: f.name,
      staged: [{ name: `${f.name}$s`, type: DOUBLE, sql: 'DOUBLE' }, { name: `${f.name}$ns`, type: DOUBLE, sql: 'DOUBLE' }],
      select: () => `make_timestamp_ns(CAST(e.${c('$s')} AS BIGINT) * 1000000000 + CAST(e.${c('$ns')} AS BIGINT)) AS ${q}`,
      put: (vs, row, v) => {
        if (v === null || v === undefined) { vs[at].setItem(row, null); vs[at + 1].setItem(row, null); return; }
        const [sec, ns] = times.split(v as string);
        (vs[at] as DuckDBVector<number>).setItem(row, sec);
        (vs[at + 1] as DuckDBVector<number>).setItem(row, ns);
      },
    };
  }
  const staged = (type: DuckDBType, sql: string): Column['staged'] => [{ name: f.name, type, sql }];
  switch (f.type) {
    case 'integer':
      return {
        name: f.name, staged: staged(DOUBLE, 'DOUBLE'), select: () => `CASE WHEN isnan(e.${q}) THEN NULL ELSE CAST(e.${q} AS BIGINT) END AS ${q}`,
        put: (vs, row, v) => (vs[at] as DuckDBVector<number>).setItem(row, (v as number | null) ?? NaN),
      };
    case 'string':
      if (f.unique) {
        return {
          name: f.name, staged: staged(VARCHAR, 'VARCHAR'), select: () => `e.${q} AS ${q}`,
          put: (vs, row, v) => (vs[at] as DuckDBVector<string>).setItem(row, (v as string | null) ?? null),
        };
      }
    // fall through: a repeated string goes through its dictionary
    case 'string[]': {
      const dictionary = new Dictionary();
      const list = f.type === 'string[]';
      return {
        name: f.name, staged: staged(INTEGER, 'INTEGER'), dictionary,
        select: (d) => (list
          ? `CASE WHEN ${d}.s = '' THEN []::VARCHAR[] ELSE string_split(${d}.s, chr(1)) END AS ${q}`
          : `${d}.s AS ${q}`),
        put: (vs, row, v) => {
          const vec = vs[at] as DuckDBVector<number>;
          if (v === null || v === undefined) vec.setItem(row, -1);
          else vec.setItem(row, dictionary.id(list ? (v as readonly string[]).join(LIST_SEP) : (v as string)));
        },
      };
    }
  }
}

/** The columns, in the JSON field order. */
export function parquetColumns(): readonly Column[] {
  const out: Column[] = [];
  let at = 0;
  for (const f of EVENT_SCHEMA as readonly FieldSpec[]) {
    const col = columnOf(f, at);
    out.push(col);
    at += col.staged.length;
  }
  return out;
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
  private readonly columns: readonly Column[];
  private readonly names: (keyof ResetEvent)[];
  private readonly types: DuckDBType[];
  private chunk: DuckDBDataChunk | null = null;
  private vectors: VectorOf[] = [];
  private row = 0;
  private readonly chunkRows: number;
  count = 0;
  private closed = false;

  private constructor(private readonly out: string, private readonly spill: string, private readonly db: DuckDBInstance,
    private readonly conn: DuckDBConnection, private readonly appender: DuckDBAppender, columns: readonly Column[]) {
    this.columns = columns;
    this.names = columns.map((c) => c.name as keyof ResetEvent);
    this.types = columns.flatMap((c) => c.staged.map((s) => s.type));
    this.chunkRows = 2048; // DuckDB's vector size: a chunk holds at most this many rows
  }

  /** Claims `out` (mode 0600) at once, so that a bad path fails before any work. */
  static async create(out: string): Promise<ParquetEventWriter> {
    claimOutput(out);
    const spill = mkdtempSync(join(tmpdir(), 'rstrace-parquet-'));
    // bounded memory: DuckDB spills what is over the limit to a private directory of its own
    const db = await DuckDBInstance.create(':memory:', { memory_limit: MEMORY_LIMIT, temp_directory: spill });
    try {
      const conn = await db.connect();
      const columns = parquetColumns();
      const staged = columns.flatMap((c) => c.staged.map((s) => `${quote(s.name)} ${s.sql}`));
      await conn.run(`CREATE TABLE events (${staged.join(', ')})`);
      return new ParquetEventWriter(out, spill, db, conn, await conn.createAppender('events'), columns);
    } catch (err) {
      db.closeSync();
      rmSync(spill, { recursive: true, force: true });
      throw err;
    }
  }

  add(e: ResetEvent): void {
    if (this.chunk === null) this.newChunk();
    const { columns, names, vectors, row } = this;
    for (let i = 0; i < columns.length; i++) columns[i].put(vectors, row, e[names[i]]);
    this.count++;
    if (++this.row === this.chunkRows) this.appendChunk();
  }

  /** Writes the file and frees DuckDB. */
  async finish(): Promise<void> {
    try {
      if (this.row > 0) this.appendChunk();
      this.appender.flushSync();
      this.appender.closeSync();
      const joins: string[] = [];
      const selects: string[] = [];
      for (let i = 0; i < this.columns.length; i++) {
        const col = this.columns[i];
        const d = `d${i}`;
        if (col.dictionary) {
          await this.writeDictionary(d, col.dictionary);
          joins.push(`LEFT JOIN ${d} ON ${d}.id = e.${quote(col.name)}`);
        }
        selects.push(col.select(d));
      }
      // a trace names processes and peers: whatever DuckDB creates stays private
      const umask = process.umask(0o077);
      try {
        await this.conn.run(`COPY (SELECT ${selects.join(', ')} FROM events e ${joins.join(' ')} ORDER BY e.rowid) `
          + `TO ${sqlString(this.out)} (FORMAT parquet, COMPRESSION zstd)`);
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
    rmSync(this.spill, { recursive: true, force: true });
  }

  private newChunk(): void {
    const chunk = DuckDBDataChunk.create(this.types, this.chunkRows);
    this.vectors = this.types.map((_t, i) => chunk.getColumnVector(i) as VectorOf);
    this.chunk = chunk;
    this.row = 0;
  }

  private appendChunk(): void {
    const chunk = this.chunk;
    if (chunk === null) return;
    for (const v of this.vectors) v.flush();
    if (this.row < this.chunkRows) chunk.rowCount = this.row;
    this.appender.appendDataChunk(chunk);
    this.chunk = null;
    this.row = 0;
  }

  private async writeDictionary(table: string, dictionary: Dictionary): Promise<void> {
    await this.conn.run(`CREATE TABLE ${table} (id INTEGER, s VARCHAR)`);
    const a = await this.conn.createAppender(table);
    try {
      for (const [s, id] of dictionary.ids) { a.appendInteger(id); a.appendVarchar(s); a.endRow(); }
      a.flushSync();
    } finally {
      a.closeSync();
    }
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
