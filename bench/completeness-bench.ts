/**
 * What the completeness check costs: per record, the seenSent count over a
 * refused-connect storm batch (hot, as BatchQueue has just copied it, and
 * cold, a stream larger than the caches); per namespace, one TcpOutRsts
 * reading through the addon's setns thread, against a plain read of
 * /proc/self/net/snmp; and finding the namespaces (/proc scan).
 *   npx tsx bench/completeness-bench.ts [rounds=15]
 */
import { readFileSync } from 'node:fs';
import { KernelCheck } from '../src/completeness/check.js';
import { reachableNamespaces } from '../src/completeness/namespaces.js';
import { readOutRsts } from '../src/kernel/snmp.js';
import { stormBatches, type Batch } from '../test/helpers/records.js';

const ROUNDS = Number(process.argv[2] ?? 15);
const BATCHES = 200;

function perRecord(label: string, batches: readonly Batch[]): void {
  const k = new KernelCheck({ hits: () => ({ byNetns: [], overflow: 0 }), scan: () => ({ found: [], leftOut: 0 }) });
  const records = batches.reduce((s, b) => s + b.records, 0);
  let cpu = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    for (const b of batches) k.countBatch(b.bytes, b.records);
    cpu = Math.min(cpu, (process.cpuUsage(c0).user * 1000) / records);
  }
  console.log(`seenSent count, ${label}: ${cpu.toFixed(1)} ns CPU per record (best of ${ROUNDS} x ${records.toLocaleString('en-US')})`);
}

function perCall(label: string, n: number, f: () => void): void {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(`${label}: ${(Number(process.hrtime.bigint() - t) / 1e3 / n).toFixed(1)} us each (${n} calls)`);
}

const hot = [...stormBatches(2048, 2048)][0];
perRecord('one hot batch', Array.from({ length: BATCHES }, () => hot));
perRecord('cold stream', [...stormBatches(2048 * BATCHES, 2048)]);
perCall('TcpOutRsts through setns (readOutRsts)', 500, () => readOutRsts('/proc/self/ns/net'));
perCall('plain read of /proc/self/net/snmp', 500, () => readFileSync('/proc/self/net/snmp', 'utf8'));
const t = process.hrtime.bigint();
const scan = reachableNamespaces();
console.log(`finding namespaces: ${scan.found.length} found in ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`);
