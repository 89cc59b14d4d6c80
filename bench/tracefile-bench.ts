/**
 * Trace file (format 2) on a reset storm: the writer's CPU and bytes per
 * event, then `report` and `export --format jsonl` speed reading it back
 * (both classify at read time through the live Pipeline). Run:
 *   npx tsx bench/tracefile-bench.ts [events=1000000] [file] [--write]
 * --write puts the figures in bench/RESULTS.md (its own section; `make bench` does this).
 */
import { statSync, unlinkSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTrace, fileOutput } from '../src/export.js';
import { reportFiles } from '../src/report/run.js';
import { TraceReader } from '../src/tracefile/reader.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';
import { stormBatches } from '../test/helpers/records.js';
import { TRACEFILE_HEADING, writeResults } from './lib.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const write = process.argv.includes('--write');
const count = Number(args[0] ?? 1_000_000);
const file = args[1] ?? join(tmpdir(), `rstrace-bench-${process.pid}.rstrace`);
const lines: string[] = [];
function say(line: string): void {
  console.log(line);
  lines.push(line);
}
/** best of the runs, per CPU second, for the summary table */
const best: Record<string, number> = {};

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
  say(`${label.padEnd(22)} ${rate(n, wall)} events/s wall (${wall.toFixed(0)} ms), ${rate(n, cpu)} events/s per CPU second`);
  best[label] = Math.max(best[label] ?? 0, (n / cpu) * 1000);
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
say(`events:                ${count.toLocaleString('en-US')} (refused connects: sent NO_SOCKET + received SYN_SENT, 4096-record batches)`);
say(`file size:             ${(size / 1048576).toFixed(1)} MiB, ${(size / count).toFixed(2)} bytes/event`);
say(`write                  ${((wc.user + wc.system) / count).toFixed(3)} us CPU/event (${(writeMs * 1000 / count).toFixed(3)} us wall), ${rate(count, writeMs)} events/s wall`);

for (let run = 1; run <= 2; run++) {
  say(`-- run ${run}`);
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
if (args[1] === undefined) unlinkSync(file);

if (write) {
  const m = (label: string): string => `${(best[label] / 1e6).toFixed(2)} M`;
  writeResults({
    tracefile: [
      TRACEFILE_HEADING, '',
      `${new Date().toISOString().slice(0, 10)}, Linux ${release()}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores, shared).`,
      `Command: \`npx tsx bench/tracefile-bench.ts ${count}\` (also run by \`make bench\`). A synthetic storm of refused connects`,
      'in trace format 2 (per connect a socket-less `sent` NO_SOCKET record and a `received` SYN_SENT record, one process with',
      'two threads, ports and cookies counting up, 1.5-5.5 us apart, 4,096-record batches), written with the live writer, then',
      'read back by `report` and `export --format jsonl` (to /dev/null), which classify every record through the live Pipeline.',
      'Rates are per CPU second of this process (the machine is shared), best of 2 runs.', '',
      '| measurement | figure | target |',
      '| --- | --- | --- |',
      `| writer CPU per event | ${((wc.user + wc.system) / count).toFixed(2)} us | |`,
      `| bytes per event | ${(size / count).toFixed(2)} | < 40 |`,
      `| read + classify (streamed) | ${m('read (streamed)')} events/s | |`,
      `| \`report\` | ${m('read+report')} events/s | >= 1M |`,
      `| \`export --format jsonl\` | ${m('read+export jsonl')} events/s | >= 1M |`,
      '', '```', ...lines, '```', '',
    ].join('\n'),
  });
}
