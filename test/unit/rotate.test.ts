import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WallClock } from '../../src/enrich/clock.js';
import type { ResetEvent, TraceCounters } from '../../src/event.js';
import { RstraceError } from '../../src/errors.js';
import { exportTrace, fileOutput } from '../../src/export.js';
import { Pipeline } from '../../src/pipeline.js';
import { reportFiles } from '../../src/report/run.js';
import { TraceSeries, traceInputs } from '../../src/tracefile/inputs.js';
import { readTraceFile } from '../../src/tracefile/reader.js';
import { parseDuration, parseSize, RotatingTraceWriter, RotationNames } from '../../src/tracefile/rotate.js';
import { FLAG, KIND, OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { TCP_STATE } from '../../src/kernel/names.js';
import { stormBatches, variedBatches, type Batch } from '../helpers/records.js';
import { BOOT_TO_WALL, FakeProc, headerInput, REASONS, writeBatches } from '../helpers/tracefile.js';

const root = mkdtempSync(join(tmpdir(), 'rsth6-rotate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => {
  const d = join(root, String(dirs++));
  mkdirSync(d);
  return d;
};

function expectUsage(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(RstraceError);
  expect((err as RstraceError).exitCode).toBe(2);
  expect((err as RstraceError).oneLine()).toMatch(message);
}

/** What `trace -o --rotate-*` does with `batches`: the rotating writer, and the live pipeline on the writer's owners. */
function writeRotated(path: string, batches: Iterable<Batch>, policy: ConstructorParameters<typeof RotatingTraceWriter>[3],
  totals: TraceCounters = { delivered: 0, lost: 0, filtered: 0 }): { writer: RotatingTraceWriter; live: ResetEvent[]; records: number } {
  const writer = new RotatingTraceWriter(path, headerInput({ filter: null, limit: null }), new FakeProc(), policy, () => totals);
  const pipeline = new Pipeline({ clock: new WallClock(BigInt(BOOT_TO_WALL)), proc: writer.owners, reasons: new Map(REASONS) });
  const live: ResetEvent[] = [];
  let records = 0;
  for (const b of batches) {
    writer.writeBatch(b.bytes, b.records);
    for (const e of pipeline.processBatch(b.bytes, b.records)) live.push(e);
    records += b.records;
  }
  for (const e of pipeline.flush()) live.push(e);
  writer.close({ ...totals, delivered: records });
  return { writer, live, records };
}

function readAll(args: string | string[]): ResetEvent[] {
  const series = TraceSeries.open(args);
  const out: ResetEvent[] = [];
  for (let b = series.nextBatch(); b; b = series.nextBatch()) out.push(...b);
  series.close();
  return out;
}

describe('rotation options', () => {
  it('parses sizes in bytes, K, M, G (powers of 1024) and refuses sizes under 64K or without a number', () => {
    expect(parseSize('--rotate-size', '64M')).toBe(64 << 20);
    expect(parseSize('--rotate-size', '512k')).toBe(512 << 10);
    expect(parseSize('--rotate-size', '1G')).toBe(1 << 30);
    expect(parseSize('--rotate-size', '1.5MiB')).toBe(1.5 * (1 << 20));
    expect(parseSize('--rotate-size', '100000')).toBe(100000);
    expectUsage(() => parseSize('--rotate-size', '10K'), /^rstrace: --rotate-size: '10K' is not valid: give a size of at least 64K/);
    expectUsage(() => parseSize('--rotate-size', 'big'), /'big' is not valid/);
    expectUsage(() => parseSize('--rotate-size', ''), /is not valid/);
  });

  it('parses durations in s, m, h, d (a bare number is seconds), at least one second', () => {
    expect(parseDuration('--rotate-every', '30s')).toBe(30_000);
    expect(parseDuration('--rotate-every', '15m')).toBe(900_000);
    expect(parseDuration('--rotate-every', '1h')).toBe(3_600_000);
    expect(parseDuration('--rotate-every', '1d')).toBe(86_400_000);
    expect(parseDuration('--rotate-every', '90')).toBe(90_000);
    expectUsage(() => parseDuration('--rotate-every', '0.5s'), /'0.5s' is not valid: give a duration of at least 1s/);
    expectUsage(() => parseDuration('--rotate-every', '1w'), /'1w' is not valid/);
  });

  it('names files NAME-YYYYMMDDTHHMMSSZ-SEQ.EXT, which sort in time order, and recognises only its own series', () => {
    const n = new RotationNames('/var/lib/rstrace/rstrace.trace');
    expect(n.name(new Date('2026-12-02T01:02:03.456Z'), 7)).toBe('/var/lib/rstrace/rstrace-20261202T010203Z-000007.trace');
    expect(n.seqOf('rstrace-20261202T010203Z-000007.trace')).toBe(7);
    expect(n.seqOf('rstrace-20261202T010203Z-1234567.trace')).toBe(1234567);
    expect(n.seqOf('rstrace.trace')).toBeNull();
    expect(n.seqOf('other-20261202T010203Z-000007.trace')).toBeNull();
    expect(n.seqOf('rstrace-20261202T010203Z-000007.trace.tmp')).toBeNull();
    const names = [n.name(new Date('2026-12-02T10:00:00Z'), 10), n.name(new Date('2026-12-02T09:59:59Z'), 9), n.name(new Date('2026-12-02T09:59:59Z'), 8)];
    expect([...names].sort()).toEqual([...names].reverse());
    expect(new RotationNames('dir/trace').name(new Date('2026-12-02T01:02:03Z'), 1)).toBe('dir/trace-20261202T010203Z-000001');
  });
});

describe('rotating trace writer', () => {
  it('splits a storm over complete files (header, trailer, mode 0600) that read back as exactly the live events', () => {
    const dir = freshDir();
    const { writer, live, records } = writeRotated(join(dir, 'r.trace'), stormBatches(200_000, 2048), { sizeBytes: 64 << 10 });
    expect(writer.files.length).toBeGreaterThan(5);
    let delivered = 0;
    for (const f of writer.files) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      const t = readTraceFile(f);
      expect(t.damage).toBeNull();
      expect(t.trailer).not.toBeNull();
      delivered += t.trailer!.delivered;
    }
    expect(delivered).toBe(records);
    const events = readAll(dir);
    expect(events.length).toBe(live.length);
    expect(events).toEqual(live);
  });

  it('keeps varied records (every kind, odd names, IPv6) equal to live across rotations', () => {
    const dir = freshDir();
    const batches: Batch[] = [];
    // small batches, so that rotations fall between many of them
    for (const b of variedBatches(6000, 7)) {
      for (let i = 0; i < b.records; i += 50) {
        const n = Math.min(50, b.records - i);
        batches.push({ bytes: b.bytes.slice(i * RECORD_SIZE, (i + n) * RECORD_SIZE), records: n });
      }
    }
    const { writer, live } = writeRotated(join(dir, 'v.trace'), batches, { sizeBytes: 64 << 10 });
    expect(writer.files.length).toBeGreaterThan(2);
    expect(readAll(dir)).toEqual(live);
  });

  it('keeps the batch after a possible phantom reset in the same file, so the reader drops the phantom as live did', () => {
    const dir = freshDir();
    const names: [number, string][] = [...REASONS, [8, 'TCP_ABORT_ON_DATA']];
    const one = (set: (dv: DataView) => void, ts: bigint): Uint8Array => {
      const b = new Uint8Array(RECORD_SIZE);
      const dv = new DataView(b.buffer);
      dv.setBigUint64(OFFSETS.ts_ns, ts, true);
      dv.setUint16(OFFSETS.family, 2, true);
      dv.setBigUint64(OFFSETS.cookie, 9n, true);
      set(dv);
      return b;
    };
    const sock = FLAG.HAS_SK | FLAG.FULLSOCK | FLAG.DEAD | FLAG.OWNER_KNOWN;
    const phantom = one((dv) => { dv.setUint8(OFFSETS.kind, KIND.RECEIVED); dv.setUint8(OFFSETS.state, TCP_STATE.FIN_WAIT2); dv.setUint16(OFFSETS.flags, sock, true); }, 2_000_000_000_000n);
    const abortOnData = one((dv) => {
      dv.setUint8(OFFSETS.kind, KIND.SENT); dv.setUint8(OFFSETS.state, TCP_STATE.CLOSE); dv.setUint32(OFFSETS.reason, 8, true);
      dv.setUint16(OFFSETS.flags, sock | FLAG.HAS_REASON, true);
    }, 2_000_000_000_001n);
    const [storm, after] = [...stormBatches(20_000, 10_000)];
    // the first batch fills the file past --rotate-size and ends with the phantom's received half; its sent half opens the next batch
    const batches: Batch[] = [
      { bytes: Buffer.concat([storm.bytes, phantom]), records: storm.records + 1 },
      { bytes: Buffer.concat([abortOnData, after.bytes]), records: after.records + 1 },
      ...stormBatches(10, 10, 3),
    ];
    const totals = { delivered: 0, lost: 0, filtered: 0 };
    const writer = new RotatingTraceWriter(join(dir, 'p.trace'), headerInput({ filter: null, limit: null, names: { sk_rst_reason: names } }),
      new FakeProc(), { sizeBytes: 64 << 10 }, () => totals);
    const pipeline = new Pipeline({ clock: new WallClock(BigInt(BOOT_TO_WALL)), proc: writer.owners, reasons: new Map(names) });
    const live: ResetEvent[] = [];
    for (const b of batches) {
      writer.writeBatch(b.bytes, b.records);
      live.push(...pipeline.processBatch(b.bytes, b.records));
    }
    live.push(...pipeline.flush());
    writer.close(totals);
    expect(writer.files).toHaveLength(2);
    expect(readTraceFile(writer.files[0]).trailer!.delivered).toBe(20_002);
    expect(live).toHaveLength(20_011); // the phantom is not an event
    expect(readAll(dir)).toEqual(live);
  });

  it('keeps the newest N files, and a new writer continues the series where it stopped', () => {
    const dir = freshDir();
    const first = writeRotated(join(dir, 'r.trace'), stormBatches(200_000, 2048), { sizeBytes: 64 << 10, keep: 3 });
    const seqs = (): number[] => readdirSync(dir).map((n) => new RotationNames(join(dir, 'r.trace')).seqOf(n)!).sort((a, b) => a - b);
    const made = first.writer.files.length;
    expect(seqs()).toEqual([made - 2, made - 1, made]);
    const second = writeRotated(join(dir, 'r.trace'), stormBatches(1000, 500), { sizeBytes: 64 << 10, keep: 3 });
    expect(second.writer.files.length).toBe(1);
    expect(seqs()).toEqual([made - 1, made, made + 1]);
  });

  it("gives each trailer its file's share of the lost and filtered counters", () => {
    const dir = freshDir();
    const totals = { delivered: 0, lost: 0, filtered: 0 };
    const writer = new RotatingTraceWriter(join(dir, 'c.trace'), headerInput({ filter: null, limit: null }), new FakeProc(), { sizeBytes: 64 << 10 }, () => totals);
    let b = 0;
    for (const batch of stormBatches(100_000, 2048)) {
      writer.writeBatch(batch.bytes, batch.records);
      totals.lost += 5; totals.filtered += 1; b++;
    }
    writer.close({ ...totals, delivered: 100_000 });
    const trailers = writer.files.map((f) => readTraceFile(f).trailer!);
    expect(trailers.reduce((n, t) => n + t.lost, 0)).toBe(5 * b);
    expect(trailers.reduce((n, t) => n + t.filtered, 0)).toBe(b);
    expect(trailers.reduce((n, t) => n + t.delivered, 0)).toBe(100_000);
    expect(reportFiles([dir]).report.lost).toBe(5 * b);
  });

  it('starts a new file every --rotate-every, on the flush timer, also when no reset comes', () => {
    vi.useFakeTimers({ now: new Date('2026-12-02T01:00:00Z'), toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const dir = freshDir();
      const totals = { delivered: 0, lost: 0, filtered: 0 };
      const writer = new RotatingTraceWriter(join(dir, 't.trace'), headerInput({ filter: null, limit: null, startTime: new Date().toISOString() }),
        new FakeProc(), { everyMs: 60_000 }, () => totals);
      writer.startAutoFlush(1000);
      const [b] = [...stormBatches(100, 100)];
      writer.writeBatch(b.bytes, b.records);
      vi.advanceTimersByTime(59_000);
      expect(writer.files).toHaveLength(1);
      vi.advanceTimersByTime(1_000);
      expect(writer.files).toHaveLength(2);
      vi.advanceTimersByTime(120_000); // idle: still one file a minute
      expect(writer.files).toHaveLength(4);
      writer.close(totals);
      expect(writer.files.map((f) => f.slice(dir.length + 1))).toEqual([
        't-20261202T010000Z-000001.trace', 't-20261202T010100Z-000002.trace', 't-20261202T010200Z-000003.trace', 't-20261202T010300Z-000004.trace',
      ]);
      expect(writer.files.map((f) => readTraceFile(f).events.length)).toEqual([100, 0, 0, 0]);
      expect(writer.files.map((f) => readTraceFile(f).header.startTime)).toEqual([
        '2026-12-02T01:00:00.000Z', '2026-12-02T01:01:00.000Z', '2026-12-02T01:02:00.000Z', '2026-12-02T01:03:00.000Z',
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses --rotate-keep 0', () => {
    expectUsage(() => new RotatingTraceWriter(join(freshDir(), 'k.trace'), headerInput(), new FakeProc(), { sizeBytes: 1 << 20, keep: 0 },
      () => ({ delivered: 0, lost: 0, filtered: 0 })), /--rotate-keep: '0' is not valid/);
  });
});

describe('several trace files as input', () => {
  it('reads files in the order of their header start times, not of their names or of the arguments', () => {
    const dir = freshDir();
    const late = writeBatches(join(dir, 'a.trace'), stormBatches(10, 10, 1), { header: { startTime: '2026-11-26T09:00:00.000Z', filter: null, limit: null } });
    const early = writeBatches(join(dir, 'b.trace'), stormBatches(10, 10, 2), { header: { startTime: '2026-11-26T08:00:00.000Z', filter: null, limit: null } });
    expect(traceInputs([dir]).files.map((f) => f.path)).toEqual([early.path, late.path]);
    expect(traceInputs([late.path, early.path]).files.map((f) => f.path)).toEqual([early.path, late.path]);
    expect(readAll([late.path, early.path])).toEqual([...early.live, ...late.live]);
  });

  it('reads a damaged file among several up to its damage, says so, and reads the others; skips what is not a trace in a directory', async () => {
    const dir = freshDir();
    const { writer, live } = writeRotated(join(dir, 'r.trace'), stormBatches(60_000, 2048), { sizeBytes: 64 << 10 });
    expect(writer.files.length).toBeGreaterThanOrEqual(3);
    const cut = writer.files[1];
    const whole = readTraceFile(cut).events.length;
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const kept = readTraceFile(cut).events.length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(whole);
    writeFileSync(join(dir, 'notes.txt'), 'not a trace\n');

    const run = reportFiles([dir]);
    expect(run.report.total).toBe(live.length - (whole - kept));
    expect(run.report.truncated).toBe(true);
    expect(run.warnings).toEqual([
      `rstrace: ${join(dir, 'notes.txt')}: skipped (it is not an rstrace trace file)`,
      expect.stringMatching(new RegExp(`^rstrace: ${cut}: trace ends mid-record after [\\d,]+ events \\(tail truncated\\)`)),
    ]);

    const out = join(root, `export-${dirs}.jsonl`);
    const r = await exportTrace([dir], 'jsonl', () => fileOutput(out));
    expect(r.events).toBe(run.report.total);
    expect(r.warnings).toEqual(run.warnings);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(run.report.total);
  });

  it('refuses a directory with no trace files, and a named file that is not a trace, with exit 2', () => {
    const empty = freshDir();
    expectUsage(() => traceInputs([empty]), /no trace files in this directory/);
    const notTrace = join(freshDir(), 'x.txt');
    writeFileSync(notTrace, 'hello');
    expectUsage(() => traceInputs([notTrace]), /is not an rstrace trace file/);
  });
});
