/**
 * User-space cost per event, without the kernel: a storm-shaped batch (refused
 * connects: a socket-less sent RST and a received RST per connect) through
 * decode -> pipeline -> JSON lines, and -> trace file. Prints ns per event.
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
import { TraceFileWriter } from '../src/sinks/tracefile.js';

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

function run(name: string, sink: (events: ReturnType<Pipeline['process']>) => void): void {
  const pipeline = new Pipeline({ clock: new WallClock(1_790_000_000_000_000_000n), proc: new ProcIndex('/nonexistent'), reasons });
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const b of batches) {
    const events = pipeline.processBatch(b, BATCH);
    n += events.length;
    sink(events);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(`${name.padEnd(28)} ${(ns / n).toFixed(0).padStart(6)} ns/event  ${(n / (ns / 1e9) / 1e6).toFixed(2)} M events/s`);
}

run('decode+classify (warm-up)', () => {});
run('decode+classify', () => {});
let bytes = 0;
run('... + JSON lines', (events) => { let s = ''; for (const e of events) s += toJsonLine(e) + '\n'; bytes += s.length; });
const dir = mkdtempSync(join(tmpdir(), 'rstrace-bench-'));
const w = TraceFileWriter.open(join(dir, 'b.rstrace'), { host: 'h', kernel: 'k', bootToWallNs: '0', startTime: new Date().toISOString(), options: {} });
run('... + trace file', (events) => { for (const e of events) w.write(e); w.flush(); });
w.close({ delivered: 0, lost: 0, filtered: 0 });
rmSync(dir, { recursive: true, force: true });
