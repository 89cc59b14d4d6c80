/**
 * `export --format parquet` on a reset storm file: export rate, bytes per
 * event of the Parquet file (next to the trace file's and JSON lines'), and
 * the peak RSS of each export, each run in a process of its own. Run:
 *   npx tsx bench/parquet-bench.ts [events=1000000]
 * Prints the figures; bench/RESULTS.md's "Parquet export" section quotes them.
 */
import { spawnSync } from 'node:child_process';
import { statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTrace, fileOutput } from '../src/export.js';
import { exportParquet } from '../src/export/parquet.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';
import { stormBatches } from '../test/helpers/records.js';

if (process.argv[2] === '--child') {
  // one export, then its figures: the process's peak RSS is that export's alone
  const [, , , format, trace, out] = process.argv;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = format === 'parquet' ? (await exportParquet(trace, out)).events : (await exportTrace(trace, 'jsonl', () => fileOutput(out))).events;
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ n, wall, cpuMs: (c.user + c.system) / 1000, rssMb: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

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

function timed(label: string, format: 'jsonl' | 'parquet', out: string): void {
  const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], '--child', format, trace, out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${label}: exit ${r.status}`);
  const { n, wall, cpuMs, rssMb } = JSON.parse(r.stdout) as { n: number; wall: number; cpuMs: number; rssMb: number };
  const bytes = statSync(out).size;
  console.log(`${label.padEnd(14)} ${n.toLocaleString('en-US')} events: ${Math.round((n / wall) * 1000).toLocaleString('en-US')} events/s wall (${wall.toFixed(0)} ms), `
    + `${Math.round((n / cpuMs) * 1000).toLocaleString('en-US')} per CPU second; ${(bytes / n).toFixed(2)} bytes/event (${(bytes / 1e6).toFixed(1)} MB); peak RSS ${rssMb.toFixed(0)} MB`);
}

try {
  console.log(`trace file     ${(statSync(trace).size / count).toFixed(2)} bytes/event`);
  timed('export jsonl', 'jsonl', jsonl);
  timed('export parquet', 'parquet', parquet);
} finally {
  for (const f of [trace, parquet, jsonl]) try { unlinkSync(f); } catch { /* not made */ }
}
