/**
 * `export --format parquet`: DuckDB reads the file back, and every row equals
 * the line `export --format jsonl` prints for the same event, field by field
 * (time as TIMESTAMP_NS to the nanosecond, integers as BIGINT, nulls as nulls,
 * signals as a list), over a real trace of real resets, a file of varied
 * records (IPv6, odd names, every kind), a rotated directory and hostile
 * strings; no staging file is left in TMPDIR, on failure too.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, DuckDBListValue, DuckDBTimestampNanosecondsValue } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT_SCHEMA, type FieldSpec, type ResetEvent } from '../../src/event.js';
import { ParquetEventWriter } from '../../src/export/parquet.js';
import { freePort, refusedConnect } from '../helpers/loopback.js';
import { stormBatches, variedBatches } from '../helpers/records.js';
import { variedEvents } from '../helpers/sample-events.js';
import { RotatingTraceWriter } from '../../src/tracefile/rotate.js';
import { FakeProc, headerInput, writeBatches } from '../helpers/tracefile.js';

const RSTRACE = fileURLToPath(new URL('../../bin/rstrace', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rsth6-parquet-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(RSTRACE, args, { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** ISO-8601 with 0-9 fractional digits -> ns since the epoch. */
function isoNs(text: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`not an ISO time: ${text}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const EXPECTED_TYPE: Record<FieldSpec['type'], string> = { string: 'VARCHAR', integer: 'BIGINT', 'string[]': 'VARCHAR[]' };

/** The Parquet file through DuckDB: column types, and rows in the JSON event's terms. */
async function readParquet(path: string): Promise<{ types: [string, string][]; rows: Record<string, unknown>[] }> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    const types = described.getRows().map((r) => [String(r[0]), String(r[1])] as [string, string]);
    const result = await conn.runAndReadAll(`SELECT * FROM read_parquet('${path}')`);
    const rows = result.getRowObjects().map((row) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) {
        out[k] = v instanceof DuckDBTimestampNanosecondsValue ? v.nanos
          : typeof v === 'bigint' ? Number(v)
            : v instanceof DuckDBListValue ? v.items : v;
      }
      return out;
    });
    return { types, rows };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** A JSON event as the Parquet row should hold it. */
function asRow(e: Record<string, unknown>): Record<string, unknown> {
  return { ...e, time: isoNs(e.time as string) };
}

async function expectParquetEqualsJsonl(traceArgs: string[], name: string): Promise<number> {
  const out = join(tmp, `${name}.parquet`);
  const p = cli(['export', ...traceArgs, '--format', 'parquet', '-o', out]);
  expect(p.stderr).toBe('');
  expect(p.status).toBe(0);
  expect(statSync(out).mode & 0o777).toBe(0o600);
  const j = cli(['export', ...traceArgs, '--format', 'jsonl']);
  expect(j.status).toBe(0);
  const lines = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const { types, rows } = await readParquet(out);
  expect(types.map(([n]) => n)).toEqual(EVENT_SCHEMA.map((f) => f.name));
  for (const [n, t] of types) {
    const f = EVENT_SCHEMA.find((x) => x.name === n)!;
    expect(t, n).toBe(n === 'time' ? 'TIMESTAMP_NS' : EXPECTED_TYPE[f.type]);
  }
  expect(rows.length).toBe(lines.length);
  for (let i = 0; i < rows.length; i++) expect(rows[i], `row ${i}`).toEqual(asRow(lines[i]));
  return rows.length;
}

describe('export --format parquet, read back by DuckDB', () => {
  it('equals export --format jsonl row for row on a real trace of refused connects', async () => {
    const port = await freePort();
    const trace = join(tmp, 'real.rstrace');
    const child = spawn(RSTRACE, ['trace', '-o', trace, '--port', String(port), '--duration', '60'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 100 && !err.includes('attached'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(err).toContain('attached');
      for (let i = 0; i < 4; i++) expect(await refusedConnect(port)).toBe('ECONNREFUSED');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(await expectParquetEqualsJsonl([trace], 'real')).toBe(8);
  }, 90_000);

  it('equals jsonl on varied records: IPv6, every kind, odd names, nulls, 20-digit cookies', async () => {
    const { path } = writeBatches(join(tmp, 'varied.rstrace'), variedBatches(3000, 11));
    expect(await expectParquetEqualsJsonl([path], 'varied')).toBeGreaterThan(2000);
  }, 60_000);

  it('reads a rotated directory in time order, as jsonl does', async () => {
    const dir = join(tmp, 'series');
    mkdirSync(dir);
    const w = new RotatingTraceWriter(join(dir, 's.trace'), headerInput({ filter: null, limit: null }), new FakeProc(),
      { sizeBytes: 64 << 10 }, () => ({ delivered: 0, lost: 0, filtered: 0 }));
    for (const b of stormBatches(50_000, 2048)) w.writeBatch(b.bytes, b.records);
    w.close({ delivered: 50_000, lost: 0, filtered: 0 });
    expect(w.files.length).toBeGreaterThan(2);
    expect(await expectParquetEqualsJsonl([dir], 'series')).toBe(50_000);
  }, 60_000);

  it('writes signals as a list of strings and every null as null', async () => {
    const events: ResetEvent[] = variedEvents(500, 5).map((e, i) => ({
      ...e, signals: i % 3 === 0 ? ['out-of-window', 'data-after-reset'] : i % 3 === 1 ? ['reset-seq-change'] : null,
      cgroup: i % 2 ? '/system.slice/x.service' : null, container: i % 5 ? null : 'abc123',
    }));
    const out = join(tmp, 'signals.parquet');
    const w = await ParquetEventWriter.create(out);
    for (const e of events) w.add(e);
    await w.finish();
    const { rows } = await readParquet(out);
    expect(rows).toEqual(events.map((e) => asRow(JSON.parse(JSON.stringify(e)) as Record<string, unknown>)));
  }, 60_000);

  /** Strings that break naive CSV, JSON or C: each must come back as it went in (as UTF-8 can hold it). */
  const HOSTILE = ['', ' ', '"', '""', "'", ',', 'a,b', '"x, y"', '\n', 'a\r\nb', '\t\\\b\f\v', '\\"', '\\u0041', '\\ud800', '\\\ud800', '\u0000', 'a\u0000b',
    '\u0001\u001f\u007f\u0080\u009f', '\u2028\u2029', 'é ü 中文 🦀', 'bom\ufeff', 'a\ufeffb', '\ud800', 'x\udc00y', '\udbff\udfff', 'null', 'NULL', '\\N', '[]', '{}',
    'x'.repeat(5000)];

  /** What a string can be in UTF-8: a lone surrogate becomes U+FFFD, as TextEncoder makes it. */
  const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

  it('round-trips hostile strings in every string column, and [] apart from null', async () => {
    const base = variedEvents(HOSTILE.length * 2, 3);
    const stringFields = EVENT_SCHEMA.filter((f) => f.type === 'string' && f.name !== 'time' && !('values' in f));
    const events: ResetEvent[] = base.map((e, i) => {
      const out: Record<string, unknown> = { ...e };
      // every field on every row, each row shifted, so that each string meets each column
      stringFields.forEach((f, k) => { out[f.name] = HOSTILE[(i + k) % HOSTILE.length]; });
      out.signals = i % 3 === 0 ? [] : i % 3 === 1 ? [HOSTILE[i % HOSTILE.length], 'a,b'] : null;
      return out as unknown as ResetEvent;
    });
    const out = join(tmp, 'hostile.parquet');
    const w = await ParquetEventWriter.create(out);
    for (const e of events) w.add(e);
    await w.finish();
    const { rows } = await readParquet(out);
    const expected = events.map((e) => {
      const row = asRow(JSON.parse(JSON.stringify(e)) as Record<string, unknown>);
      for (const [k, v] of Object.entries(row)) {
        if (typeof v === 'string') row[k] = utf8(v);
        else if (Array.isArray(v)) row[k] = v.map((x: string) => utf8(x));
      }
      return row;
    });
    expect(rows.length).toBe(events.length);
    for (let i = 0; i < rows.length; i++) expect(rows[i], `row ${i}`).toEqual(expected[i]);
  }, 60_000);

  it('keeps a leading byte order mark (which a UTF-8 decoder would drop, so asked of DuckDB)', async () => {
    const events = variedEvents(10, 4).map((e, i) => ({ ...e, comm: i % 2 ? '\ufeffbom' : 'plain' }));
    const out = join(tmp, 'bom.parquet');
    const w = await ParquetEventWriter.create(out);
    for (const e of events) w.add(e);
    await w.finish();
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const r = await conn.runAndReadAll(`SELECT count(*) FILTER (WHERE comm = chr(65279) || 'bom'), count(*) FILTER (WHERE comm = 'plain') FROM read_parquet('${out}')`);
      expect(r.getRows()[0].map(Number)).toEqual([5, 5]);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  }, 60_000);

  it('writes an empty file with every column when no event is left, and no staging file is ever seen', async () => {
    const stage = join(tmp, 'stage-empty');
    mkdirSync(stage);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = stage;
    try {
      const out = join(tmp, 'empty.parquet');
      const w = await ParquetEventWriter.create(out);
      expect(readdirSync(stage)).toEqual([]); // unlinked once open: nothing to leave behind if killed
      await w.finish();
      expect(readdirSync(stage)).toEqual([]);
      const { types, rows } = await readParquet(out);
      expect(types.map(([n]) => n)).toEqual(EVENT_SCHEMA.map((f) => f.name));
      expect(rows).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = before;
    }
  }, 60_000);

  it('leaves no staging behind when DuckDB cannot write, and says so in one line', async () => {
    const stage = join(tmp, 'stage-fail');
    const gone = join(tmp, 'gone');
    mkdirSync(stage);
    mkdirSync(gone);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = stage;
    try {
      const w = await ParquetEventWriter.create(join(gone, 'x.parquet'));
      for (const e of variedEvents(100, 9)) w.add(e);
      rmSync(gone, { recursive: true }); // the output's directory vanishes under the export
      await expect(w.finish()).rejects.toThrow(/^cannot write .*x\.parquet: /);
      expect(readdirSync(stage)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = before;
    }
  }, 60_000);
});
