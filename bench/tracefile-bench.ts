/**
 * Trace file (format 2) on a reset storm: the writer's CPU and bytes per
 * event, then `report` and `export --format jsonl` speed reading it back
 * (both classify at read time through the live Pipeline). Run:
 *   npx tsx bench/tracefile-bench.ts [events=1000000] [file]
 */
import { statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTrace, fileOutput } from '../src/export.js';
import { reportFiles } from '../src/report/run.js';
import { TraceReader } from '../src/tracefile/reader.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';
import { stormBatches } from '../test/helpers/records.js';

const count = Number(process.argv[2] ?? 1_000_000);
const file = process.argv[3] ?? join(tmpdir(), `rstrace-bench-${process.pid}.rstrace`);

function rate(n: number, ms: number): string {
  return Math.round((n / ms) * 1000).toLocaleString('en-US').padStart(10);
}

/** Wall clock, and this process's CPU time (user + system): the fair figure on a shared machine. */
async function timed(label: string, fn: () => number | Promise<number>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1000;
  console.log(`${label.padEnd(22)} ${rate(n, wall)} events/s wall (${wall.toFixed(0)} ms), ${rate(n, cpu)} events/s per CPU second`);
}

// Generate outside the timed region: the generator's own cost is not the writer's.
const batches = [...stormBatches(count)];
const writer = TraceFileWriter.open(file, {
  host: 'bench', kernel: '6.12.0', bootToWallNs: '1795000000000000000', startTime: new Date().toISOString(), options: {},
  names: { sk_rst_reason: [[0, 'NOT_SPECIFIED'], [1, 'NO_SOCKET']] },
}, { ownerOf: () => null });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const b of batches) writer.writeBatch(b.bytes, b.records);
writer.close({ delivered: count, lost: 0, filtered: 0 });
const writeMs = performance.now() - t0;
const wc = process.cpuUsage(cpu0);
batches.length = 0;

const size = statSync(file).size;
console.log(`events:                ${count.toLocaleString('en-US')} (refused connects: sent NO_SOCKET + received SYN_SENT, 4096-record batches)`);
console.log(`file size:             ${(size / 1048576).toFixed(1)} MiB, ${(size / count).toFixed(2)} bytes/event`);
console.log(`write                  ${((wc.user + wc.system) / count).toFixed(3)} us CPU/event (${(writeMs * 1000 / count).toFixed(3)} us wall), ${rate(count, writeMs)} events/s wall`);

for (let run = 1; run <= 2; run++) {
  console.log(`-- run ${run}`);
  await timed('read (streamed)', () => {
    let n = 0;
    const r = TraceReader.open(file);
    for (let b = r.nextBatch(); b; b = r.nextBatch()) n += b.length;
    r.close();
    return n;
  });
  await timed('read+report', () => reportFiles([file]).report.total);
  await timed('read+export jsonl', async () => (await exportTrace(file, 'jsonl', () => fileOutput('/dev/null'))).events);
}
if (process.argv[3] === undefined) unlinkSync(file);
