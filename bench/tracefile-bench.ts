/**
 * Trace file throughput on a reset storm: bytes per event on disk, write
 * speed, read + export to JSON lines, read + report. Run:
 *   npx tsx bench/tracefile-bench.ts [events=1000000] [file]
 */
import { statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTrace, fileOutput } from '../src/export.js';
import { reportFiles } from '../src/report/run.js';
import { readTraceFile, TraceFileWriter } from '../src/sinks/tracefile.js';
import { stormEventStream } from '../test/helpers/sample-events.js';

const count = Number(process.argv[2] ?? 1_000_000);
const file = process.argv[3] ?? join(tmpdir(), `rstrace-bench-${process.pid}.rstrace`);

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} events/s (${ms.toFixed(0)} ms)`;
}

// Generate outside the timed region: the generator's own cost is not the writer's.
const events = [...stormEventStream(count)];

let t = performance.now();
const writer = TraceFileWriter.open(file, {
  host: 'bench', kernel: '6.12.0', bootToWallNs: '1795000000000000000', startTime: new Date().toISOString(), options: {},
});
for (let i = 0; i < events.length; i++) writer.write(events[i]);
writer.close({ delivered: count, lost: 0, filtered: 0 });
const writeMs = performance.now() - t;
events.length = 0; // let the generated events go before the read side is measured

const size = statSync(file).size;
console.log(`events:            ${count.toLocaleString('en-US')} (storm: 3 processes, 3000 client ports, ~20 us apart)`);
console.log(`file size:         ${(size / 1048576).toFixed(1)} MiB, ${(size / count).toFixed(2)} bytes/event`);
console.log(`write:             ${rate(count, writeMs)}`);

for (let run = 1; run <= 2; run++) {
  t = performance.now();
  const r = readTraceFile(file);
  console.log(`read (run ${run}):      ${rate(r.events.length, performance.now() - t)}`);
  t = performance.now();
  const x = await exportTrace(file, 'jsonl', () => fileOutput('/dev/null'));
  console.log(`read+export jsonl: ${rate(x.events, performance.now() - t)}`);
  t = performance.now();
  const csv = await exportTrace(file, 'csv', () => fileOutput('/dev/null'));
  console.log(`read+export csv:   ${rate(csv.events, performance.now() - t)}`);
  t = performance.now();
  const { report } = reportFiles([file]);
  console.log(`read+report:       ${rate(report.total, performance.now() - t)}`);
}
if (process.argv[3] === undefined) unlinkSync(file);
