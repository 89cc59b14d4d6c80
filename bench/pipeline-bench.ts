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
import { AF_INET, FLAG, KIND, OFFSETS, RECORD_SIZE, TCP_FLAG } from '../src/decode.js';
import { WallClock } from '../src/enrich/clock.js';
import { ProcIndex } from '../src/enrich/proc.js';
import { Pipeline } from '../src/pipeline.js';
import { toJsonLine } from '../src/sinks/jsonl.js';
import { JsonLinesSink } from '../src/sinks/jsonl-sink.js';
import { MetricsSink } from '../src/sinks/metrics.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';

const N = Number(process.argv[2] ?? 400_000);
const BATCH = 4096;

function stormBatch(start: number): Uint8Array {
  const buf = new Uint8Array(BATCH * RECORD_SIZE);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i < BATCH; i++) {
    const o = i * RECORD_SIZE;
    const n = start + i;
    const connect = n >> 1;
    const sent = (n & 1) === 0;
    dv.setBigUint64(o + OFFSETS.ts_ns, 1_000_000_000n + BigInt(n) * 3500n, true);
    buf.set([127, 0, 0, 1], o + OFFSETS.laddr);
    buf.set([127, 0, 0, 1], o + OFFSETS.raddr);
    dv.setUint32(o + OFFSETS.netns, 4026531840, true);
    dv.setUint16(o + OFFSETS.family, AF_INET, true);
    const eph = 32768 + (connect % 28000);
    if (sent) {
      dv.setUint8(o + OFFSETS.kind, KIND.SENT);
      dv.setUint32(o + OFFSETS.reason, 1, true);
      dv.setUint16(o + OFFSETS.lport, 1, true);
      dv.setUint16(o + OFFSETS.rport, eph, true);
      dv.setUint8(o + OFFSETS.tcp_flags, TCP_FLAG.SYN);
      dv.setUint16(o + OFFSETS.flags, FLAG.HAS_REASON, true);
    } else {
      dv.setUint8(o + OFFSETS.kind, KIND.RECEIVED);
      dv.setUint32(o + OFFSETS.reason, 0xffffffff, true);
      dv.setUint16(o + OFFSETS.lport, eph, true);
      dv.setUint16(o + OFFSETS.rport, 1, true);
      dv.setUint8(o + OFFSETS.state, 2);
      dv.setBigUint64(o + OFFSETS.cookie, 1_000_000n + BigInt(connect), true);
      dv.setUint16(o + OFFSETS.flags, FLAG.HAS_SK | FLAG.FULLSOCK | FLAG.IN_TASK | FLAG.OWNER_KNOWN, true);
      dv.setUint32(o + OFFSETS.ctx_pid, 4242, true);
      dv.setUint32(o + OFFSETS.ctx_tid, 4243 + (connect & 1), true);
      buf.set(new TextEncoder().encode('loadgen'), o + OFFSETS.ctx_comm);
      buf.set(new TextEncoder().encode('loadgen'), o + OFFSETS.owner_comm);
      dv.setUint32(o + OFFSETS.owner_pid, 4242, true);
      dv.setUint32(o + OFFSETS.unsent, 1, true);
    }
  }
  return buf;
}

const batches = Array.from({ length: Math.ceil(N / BATCH) }, (_, i) => stormBatch(i * BATCH));
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
