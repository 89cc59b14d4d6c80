/**
 * User-space cost per event, without the kernel: a storm-shaped batch (refused
 * connects: a socket-less sent RST and a received RST per connect) through
 * decode -> pipeline -> each sink, the way `rstrace trace` drives it: --json
 * alone streams reused events (eachEvent), metrics alone counts records
 * (countBatch), and the array path (processBatch) serves the other sinks.
 * Text is measured as stdout gets it (flattened to bytes). Prints ns and us
 * per event, and heap growth.
 *   npx tsx bench/pipeline-bench.ts [events]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WallClock } from '../src/enrich/clock.js';
import { ProcIndex } from '../src/enrich/proc.js';
import { Pipeline } from '../src/pipeline.js';
import { toJsonLine } from '../src/sinks/jsonl.js';
import { JsonLinesSink } from '../src/sinks/jsonl-sink.js';
import { MetricsSink } from '../src/sinks/metrics.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';
import { stormBatches } from '../test/helpers/records.js';

const N = Number(process.argv[2] ?? 400_000);
const BATCH = 4096;

// the same synthetic storm as the trace-file tests and bench (test/helpers/records.ts)
const batches = Array.from(stormBatches(Math.ceil(N / BATCH) * BATCH, BATCH), (b) => b.bytes);
const reasons = new Map([[1, 'NO_SOCKET']]);

const newPipeline = (): Pipeline =>
  new Pipeline({ clock: new WallClock(1_790_000_000_000_000_000n), proc: new ProcIndex('/nonexistent'), reasons });

/** CPU time of this process since the last mark: the fair figure on a shared machine. */
let cpuMark = process.cpuUsage();
function cpuSince(): number {
  const c = process.cpuUsage(cpuMark);
  cpuMark = process.cpuUsage();
  return c.user + c.system;
}

function report(name: string, t0: bigint, n: number): void {
  const ns = Number(process.hrtime.bigint() - t0);
  const cpuUs = cpuSince() / n;
  console.log(`${name.padEnd(36)} ${(ns / n).toFixed(0).padStart(6)} ns/event  ${(ns / n / 1000).toFixed(3)} us/event  ${(n / (ns / 1e9) / 1e6).toFixed(2)} M events/s  ${cpuUs.toFixed(3)} us CPU/event`);
}

/** The array path: every event an object of its own. */
function run(name: string, sink: (events: ReturnType<Pipeline['process']>) => void): void {
  const pipeline = newPipeline();
  cpuSince();
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const b of batches) {
    const events = pipeline.processBatch(b, BATCH);
    n += events.length;
    sink(events);
  }
  report(name, t0, n);
}

/** The streaming paths, as trace.ts takes them. */
function stream(name: string, each: (p: Pipeline, b: Uint8Array) => number): void {
  const pipeline = newPipeline();
  cpuSince();
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const b of batches) n += each(pipeline, b);
  report(name, t0, n);
}

let bytes = 0;
const stdout = (text: string): void => { bytes += Buffer.byteLength(text); };
/** --json hands stdout bytes it keeps (a stream may hold them). */
const stdoutBytes = (chunk: Uint8Array): void => { bytes += chunk.length; };

run('decode+classify (warm-up)', () => {});
run('array: decode+classify+event', () => {});
run('array: ... + JSON lines', (events) => { let s = ''; for (const e of events) s += toJsonLine(e) + '\n'; stdout(s); });
const arrayMetrics = new MetricsSink({ processMetrics: false });
run('array: ... + metrics writeBatch', (events) => arrayMetrics.writeBatch(events));

stream('stream: eachEvent (warm-up)', (p, b) => p.eachEvent(b, BATCH, () => {}));
stream('stream: eachEvent, no sink', (p, b) => p.eachEvent(b, BATCH, () => {}));
const json = new JsonLinesSink(stdoutBytes);
stream('stream: --json (eachEvent+JSON lines)', (p, b) => { const n = p.eachEvent(b, BATCH, (e) => json.write(e)); json.end(); return n; });
const metrics = new MetricsSink({ processMetrics: false });
stream('stream: metrics (countBatch) warm-up', (p, b) => p.countBatch(b, BATCH, metrics));
stream('stream: metrics (countBatch)', (p, b) => p.countBatch(b, BATCH, metrics));
void metrics.metrics().then((text) => {
  if (!text.includes('rstrace_resets_total{')) throw new Error('metrics path counted nothing');
});

const dir = mkdtempSync(join(tmpdir(), 'rstrace-bench-'));
const w = TraceFileWriter.open(join(dir, 'b.rstrace'), { host: 'h', kernel: 'k', bootToWallNs: '0', startTime: new Date().toISOString(), options: {}, names: { sk_rst_reason: [...reasons] } });
{
  // The trace file takes the batches themselves: no pipeline, no event.
  cpuSince();
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const b of batches) { w.writeBatch(b, BATCH); n += BATCH; }
  w.flush();
  report('trace file (raw batches)', t0, n);
}
w.close({ delivered: 0, lost: 0, filtered: 0 });
rmSync(dir, { recursive: true, force: true });
console.log(`(JSON bytes written: ${bytes}; heap used now ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB)`);
