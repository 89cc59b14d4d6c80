/**
 * What naming cgroups costs: one scan of a real cgroup2 tree of N cgroups
 * (made here under the cgroup2 root as rsth3-bench-*, removed at the end),
 * a lookup that hits, and the storm pipeline per event without and with a
 * container name on every event (--json streaming and metrics counting).
 * CPU time per event, as bench/pipeline-bench.ts measures it.
 *   npx tsx bench/cgroup-bench.ts [cgroups=2000] [events=200000]
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { RECORD_SIZE } from '../src/decode.js';
import { CgroupIndex, cgroup2Root, cgroupName, type CgroupLookup } from '../src/enrich/cgroup.js';
import { WallClock } from '../src/enrich/clock.js';
import { ProcIndex } from '../src/enrich/proc.js';
import { Pipeline } from '../src/pipeline.js';
import { JsonLinesSink } from '../src/sinks/jsonl-sink.js';
import { MetricsSink } from '../src/sinks/metrics.js';
import { stormBatches } from '../test/helpers/records.js';

const CGROUPS = Math.min(Number(process.argv[2] ?? 2000), 20_000);
const EVENTS = Math.min(Number(process.argv[3] ?? 200_000), 2_000_000);

function cpuUs(f: () => void): number {
  const a = process.cpuUsage();
  f();
  const c = process.cpuUsage(a);
  return c.user + c.system;
}

const root = cgroup2Root();
if (root !== null) {
  const base = `${root}/rsth3-bench-${process.pid}.slice`;
  const dirs: string[] = [];
  try {
    mkdirSync(base);
    dirs.push(base);
    for (let i = 0; i < CGROUPS; i++) {
      const d = `${base}/pod${i % 50}.slice`;
      if (i < 50) { mkdirSync(d); dirs.push(d); }
      const c = `${d}/cri-containerd-${i.toString(16).padStart(64, '0')}.scope`;
      mkdirSync(c);
      dirs.push(c);
    }
    const idx = new CgroupIndex({ root });
    const t0 = performance.now();
    idx.scan();
    console.log(`scan of ${idx.size} cgroups: ${(performance.now() - t0).toFixed(1)} ms wall`);
    const ids = [...idx.entries()].map(([id]) => id);
    const n = 1_000_000;
    let hits = 0;
    const us = cpuUs(() => { for (let i = 0; i < n; i++) if (idx.nameOf(ids[i % ids.length], null) !== null) hits++; });
    console.log(`lookup, hit (${hits} of ${n}, ids cycling): ${((us * 1000) / n).toFixed(0)} ns CPU`);
  } finally {
    for (const d of dirs.reverse()) rmdirSync(d);
  }
} else {
  console.log('no cgroup2 mount: the scan is not measured');
}

const batches = Array.from(stormBatches(EVENTS, 4096), (b) => b.bytes);
const reasons = new Map([[1, 'NO_SOCKET']]);
const named = cgroupName(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-${'ab'.repeat(32)}.scope`);
const variants: [string, CgroupLookup | undefined][] = [['no cgroup names', undefined], ['a container on every event', { nameOf: () => named }]];
for (const [label, cgroups] of variants) {
  const pipeline = (): Pipeline => new Pipeline({ clock: new WallClock(1_790_000_000_000_000_000n), proc: new ProcIndex('/nonexistent'), reasons, cgroups });
  for (let round = 0; round < 2; round++) { // the first round warms up
    const p = pipeline();
    let bytes = 0;
    const sink = new JsonLinesSink((chunk) => { bytes += chunk.length; });
    const json = cpuUs(() => { for (const b of batches) { p.eachEvent(b, b.byteLength / RECORD_SIZE, (e) => sink.write(e)); sink.end(); } });
    const m = new MetricsSink({ processMetrics: false });
    const q = pipeline();
    const count = cpuUs(() => { for (const b of batches) q.countBatch(b, b.byteLength / RECORD_SIZE, m); });
    if (round === 1) {
      console.log(`${label.padEnd(28)} --json ${(json / EVENTS).toFixed(3)} us CPU/event (${(bytes / EVENTS).toFixed(0)} B/event), metrics ${(count / EVENTS).toFixed(3)} us CPU/event`);
    }
  }
}
