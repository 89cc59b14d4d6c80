/**
 * `export --format parquet` on a reset storm file: export rate, bytes per
 * event of the Parquet file (next to the trace file's and JSON lines'), and
 * peak RSS. Run:
 *   npx tsx bench/parquet-bench.ts [events=1000000]
 * Prints the figures; bench/RESULTS.md's "Parquet export" section quotes them.
 */
import { statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTrace, fileOutput } from '../src/export.js';
import { exportParquet } from '../src/export/parquet.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';
import { stormBatches } from '../test/helpers/records.js';

const count = Number(process.argv[2] ?? 1_000_000);
const base = join(tmpdir(), `rstrace-parquet-bench-${process.pid}`);
const trace = `${base}.rstrace`;
const parquet = `${base}.parquet`;
const jsonl = `${base}.jsonl`;

const writer = TraceFileWriter.open(trace, {
  host: 'bench', kernel: '6.12.0', bootToWallNs: '1795000000000000000', startTime: new Date().toISOString(), options: {},
  names: { sk_rst_reason: [[0, 'NOT_SPECIFIED'], [1, 'NO_SOCKET']] },
}, { ownerOf: () => null });
for (const b of stormBatches(count)) writer.writeBatch(b.bytes, b.records);
writer.close({ delivered: count, lost: 0, filtered: 0 });

async function timed(label: string, fn: () => Promise<number>, out: string): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  const cpuMs = (c.user + c.system) / 1000;
  const bytes = statSync(out).size;
  console.log(`${label.padEnd(14)} ${n.toLocaleString('en-US')} events: ${Math.round((n / wall) * 1000).toLocaleString('en-US')} events/s wall (${wall.toFixed(0)} ms), `
    + `${Math.round((n / cpuMs) * 1000).toLocaleString('en-US')} per CPU second; ${(bytes / n).toFixed(2)} bytes/event (${(bytes / 1e6).toFixed(1)} MB)`);
}

try {
  console.log(`trace file     ${(statSync(trace).size / count).toFixed(2)} bytes/event`);
  await timed('export jsonl', async () => (await exportTrace(trace, 'jsonl', () => fileOutput(jsonl))).events, jsonl);
  await timed('export parquet', async () => (await exportParquet(trace, parquet)).events, parquet);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  for (const f of [trace, parquet, jsonl]) try { unlinkSync(f); } catch { /* not made */ }
}
