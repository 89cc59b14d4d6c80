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
import { readTraceFile, TraceFileWriter, TraceReader } from '../src/sinks/tracefile.js';
import { stormEventStream } from '../test/helpers/sample-events.js';

const count = Number(process.argv[2] ?? 1_000_000);
const file = process.argv[3] ?? join(tmpdir(), `rstrace-bench-${process.pid}.rstrace`);

/**
 * Events per second by wall clock, and by this process's CPU time (user +
 * system): the second is the fair figure on a shared machine, where other
 * work takes turns on the same cores.
 */
async function timed(label: string, fn: () => number | Promise<number>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1000;
  const per = (ms: number): string => Math.round((n / ms) * 1000).toLocaleString('en-US').padStart(10);
  console.log(`${label.padEnd(19)} ${per(wall)} events/s wall (${wall.toFixed(0)} ms), ${per(cpu)} events/s per CPU second`);
}

// Generate outside the timed region: the generator's own cost is not the writer's.
const events = [...stormEventStream(count)];

let writeEvents = 0;
const writeStart = performance.now();
const writeCpu = process.cpuUsage();
const writer = TraceFileWriter.open(file, {
  host: 'bench', kernel: '6.12.0', bootToWallNs: '1795000000000000000', startTime: new Date().toISOString(), options: {},
});
for (let i = 0; i < events.length; i++) writer.write(events[i]);
writer.close({ delivered: count, lost: 0, filtered: 0 });
writeEvents = events.length;
const writeMs = performance.now() - writeStart;
const wc = process.cpuUsage(writeCpu);
events.length = 0; // let the generated events go before the read side is measured

const size = statSync(file).size;
console.log(`events:             ${count.toLocaleString('en-US')} (storm: 3 processes, 3000 client ports, ~20 us apart)`);
console.log(`file size:          ${(size / 1048576).toFixed(1)} MiB, ${(size / count).toFixed(2)} bytes/event`);
console.log(`write               ${Math.round(writeEvents / writeMs * 1000).toLocaleString('en-US').padStart(10)} events/s wall (${writeMs.toFixed(0)} ms), ${Math.round(writeEvents / ((wc.user + wc.system) / 1000) * 1000).toLocaleString('en-US').padStart(10)} events/s per CPU second`);

for (let run = 1; run <= 2; run++) {
  console.log(`-- run ${run}`);
  await timed('read (all in memory)', () => readTraceFile(file).events.length);
  await timed('read (streamed)', () => {
    let n = 0;
    const r = TraceReader.open(file);
    for (let b = r.nextBatch(); b; b = r.nextBatch()) n += b.length;
    return n;
  });
  await timed('read+export jsonl', async () => (await exportTrace(file, 'jsonl', () => fileOutput('/dev/null'))).events);
  await timed('read+export csv', async () => (await exportTrace(file, 'csv', () => fileOutput('/dev/null'))).events);
  await timed('read+report', () => reportFiles([file]).report.total);
}
if (process.argv[3] === undefined) unlinkSync(file);
