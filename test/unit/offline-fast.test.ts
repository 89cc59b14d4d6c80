/**
 * The offline fast path (reader's forEachEvent with times as numbers, the
 * report's slot counting, JSON lines patched from per-kind templates with
 * the time written from numbers) against the plain path it replaced: events
 * from the live pipeline's arrays, JSON.stringify in contract order, and the
 * report counted the old way (test/helpers/reference-report.ts). Varied,
 * storm and cut files.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS, type ResetEvent } from '../../src/event.js';
import { exportTrace, fileOutput } from '../../src/export.js';
import { reportFiles } from '../../src/report/run.js';
import { summarize, type Report } from '../../src/report/summarize.js';
import { JsonLinesBuffer } from '../../src/sinks/jsonl.js';
import { readTraceFile, TraceReader } from '../../src/tracefile/reader.js';
import { referenceSummary, type ReferenceReport } from '../helpers/reference-report.js';
import { makeRng } from '../helpers/sample-events.js';
import { stormBatches, variedBatches, type Batch } from '../helpers/records.js';
import { writeBatches } from '../helpers/tracefile.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-offline-'));

function referenceLine(e: ResetEvent): string {
  const o: Record<string, unknown> = {};
  for (const f of EVENT_FIELDS) o[f] = e[f] ?? null;
  return JSON.stringify(o) + '\n';
}

/** Storm stretches (alternating kinds, many events per ms) between varied ones (every kind, odd values, phantom candidates). */
function mixed(seed: number): Batch[] {
  return [...variedBatches(1500, seed), ...stormBatches(9000, 700, seed), ...variedBatches(1500, seed + 1), ...stormBatches(3000, 4096, seed + 2)];
}

async function exported(path: string): Promise<string> {
  const out = join(dir, `${Math.random().toString(36).slice(2)}.jsonl`);
  await exportTrace(path, 'jsonl', () => fileOutput(out));
  return readFileSync(out, 'utf8');
}

/** The new report seen with the reference's fields only. */
function pick(r: Report): ReferenceReport {
  return {
    files: r.files, total: r.total, firstTime: r.firstTime, lastTime: r.lastTime, byKind: r.byKind, byCode: r.byCode,
    topProcesses: r.topProcesses, topPeers: r.topPeers, topLocalPorts: r.topLocalPorts,
    distinct: { processes: r.distinct.processes, peers: r.distinct.peers, localPorts: r.distinct.localPorts },
    overTime: { start: r.overTime.start, bucketMs: r.overTime.bucketMs, counts: r.overTime.counts },
    lost: r.lost, filtered: r.filtered, excluded: r.excluded, truncated: r.truncated, countersIncomplete: r.countersIncomplete,
  };
}

describe('offline fast path equals the reference', () => {
  for (const seed of [1, 2, 3]) {
    it(`export --format jsonl and report of a varied + storm file (seed ${seed})`, async () => {
      const { path, live } = writeBatches(join(dir, `mixed-${seed}.rstrace`), mixed(seed));
      expect(new Set(live.map((e) => e.kind)).size).toBeGreaterThanOrEqual(3);
      expect(await exported(path)).toBe(live.map(referenceLine).join(''));
      const meta = { lost: 3, filtered: 4, truncated: false, files: [path], excluded: 0, countersIncomplete: false, top: 10 };
      const fast = reportFiles([path]).report;
      expect(pick(fast)).toEqual(referenceSummary(live, meta));
      expect(fast).toEqual(summarize(live, meta)); // the string path of the same builder, new sections included
    });
  }

  it('a file cut at many offsets: export and report cover exactly the events the array path reads', async () => {
    const { path } = writeBatches(join(dir, 'cut-src.rstrace'), mixed(7));
    const bytes = readFileSync(path);
    const rnd = makeRng(11);
    const cuts = [bytes.length - 1, bytes.length - 20, ...Array.from({ length: 10 }, () => 2000 + Math.floor(rnd() * (bytes.length - 2000)))];
    for (const cut of cuts) {
      const cutPath = join(dir, `cut-${cut}.rstrace`);
      writeFileSync(cutPath, bytes.subarray(0, cut));
      const slow = readTraceFile(cutPath); // nextBatch: arrays of events of their own
      expect(slow.truncated).toBe(true);
      expect(await exported(cutPath)).toBe(slow.events.map(referenceLine).join(''));
      const meta = { lost: 0, filtered: 0, truncated: true, files: [cutPath], excluded: 0, countersIncomplete: true, top: 10 };
      expect(pick(reportFiles([cutPath]).report)).toEqual(referenceSummary(slow.events, meta));
    }
  });

  it('JsonLinesBuffer: write and writeAt mixed on one buffer, and times writeAt cannot take, still give the reference bytes', () => {
    const { path, live } = writeBatches(join(dir, 'mix-writes.rstrace'), mixed(5));
    const rnd = makeRng(3);
    const lines = new JsonLinesBuffer(1 << 16);
    const chunks: Buffer[] = [];
    const r = TraceReader.open(path);
    r.forEachEvent((e, ms, subNs) => {
      const x = rnd();
      if (x < 0.15) lines.write(e);
      else if (x < 0.2) lines.writeAt(e, ms, -1); // not known: read from e.time
      else if (x < 0.22) lines.writeAt(e, NaN, subNs);
      else lines.writeAt(e, ms, subNs);
      if (lines.full) chunks.push(lines.take());
    });
    r.close();
    chunks.push(lines.take());
    expect(Buffer.concat(chunks).toString()).toBe(live.map(referenceLine).join(''));
  });
});
