/**
 * cgroup id -> name: the index over a directory tree standing in for the
 * cgroup2 mount (ids are the directories' inode numbers, as on cgroup2), a
 * /proc stand-in for the owner's /proc/PID/cgroup, the pipeline's use of it,
 * the trace file's cgroup side records, and the metrics labels.
 */
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OFFSETS, RECORD_SIZE } from '../../src/decode.js';
import { CgroupIndex, cgroupName, type CgroupLookup, type CgroupName } from '../../src/enrich/cgroup.js';
import { WallClock } from '../../src/enrich/clock.js';
import { Pipeline } from '../../src/pipeline.js';
import { kernelCgroupVerdicts } from '../../src/filter.js';
import { MetricsSink } from '../../src/sinks/metrics.js';
import { readTraceFile } from '../../src/tracefile/reader.js';
import { TraceFileWriter } from '../../src/tracefile/writer.js';
import { stormBatches, type Batch } from '../helpers/records.js';
import { BOOT_TO_WALL, FakeProc, REASONS, headerInput } from '../helpers/tracefile.js';

const tmp = mkdtempSync(join(tmpdir(), 'rsth3-cgidx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let trees = 0;
function tree(...dirs: string[]): { root: string; proc: string; id: (rel: string) => number } {
  const base = join(tmp, `t${trees++}`);
  const root = join(base, 'cg');
  const proc = join(base, 'proc');
  mkdirSync(root, { recursive: true });
  mkdirSync(proc);
  for (const d of dirs) mkdirSync(root + d, { recursive: true });
  return { root, proc, id: (rel) => Number(statSync(root + (rel === '/' ? '' : rel)).ino) };
}

function inCgroup(proc: string, pid: number, path: string): void {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  // a hybrid host lists the v1 hierarchies too; the v2 one is the 0:: line
  writeFileSync(join(proc, String(pid), 'cgroup'), `4:memory:/elsewhere\n1:name=systemd:/x\n0::${path}\n`);
}

const ID = 'ab'.repeat(32);

describe('CgroupIndex', () => {
  it('the scan at start names every cgroup below the root, and keeps the names of removed ones', () => {
    const t = tree('/system.slice/nginx.service', `/system.slice/docker-${ID}.scope`);
    const idx = new CgroupIndex({ root: t.root, procRoot: t.proc });
    const docker = t.id(`/system.slice/docker-${ID}.scope`);
    idx.scan(0);
    expect(idx.nameOf(t.id('/'), null, 1)?.path).toBe('/');
    expect(idx.nameOf(t.id('/system.slice/nginx.service'), null, 1)).toEqual({
      path: '/system.slice/nginx.service', container: null, unit: 'nginx.service',
      group: { key: 'u:nginx.service', container: null, unit: 'nginx.service' },
    });
    rmdirSync(`${t.root}/system.slice/docker-${ID}.scope`);
    expect(idx.nameOf(docker, null, 2)).toMatchObject({ path: `/system.slice/docker-${ID}.scope`, container: ID });
    expect(idx.scans).toBe(1);
  });

  it('a miss asks the owner\'s /proc/PID/cgroup first, checked against the id, and rescans only when that fails', () => {
    const t = tree('/a.slice');
    const idx = new CgroupIndex({ root: t.root, procRoot: t.proc, minRescanMs: 1000 });
    idx.scan(0);
    mkdirSync(`${t.root}/a.slice/new.service`);
    inCgroup(t.proc, 300, '/a.slice/new.service');
    expect(idx.nameOf(t.id('/a.slice/new.service'), 300, 10)?.path).toBe('/a.slice/new.service');
    expect(idx.scans).toBe(1); // no rescan needed
    // the process has moved on: its cgroup is not this id, so the tree is rescanned
    mkdirSync(`${t.root}/a.slice/other.service`);
    expect(idx.nameOf(t.id('/a.slice/other.service'), 300, 2000)?.path).toBe('/a.slice/other.service');
    expect(idx.scans).toBe(2);
  });

  it('rescans on misses at most once per interval, and never again for an id a rescan did not find', () => {
    const t = tree('/a.slice');
    const idx = new CgroupIndex({ root: t.root, procRoot: t.proc, minRescanMs: 1000 });
    idx.scan(0);
    mkdirSync(`${t.root}/b.slice`);
    const b = t.id('/b.slice');
    expect(idx.nameOf(b, null, 500)).toBeNull(); // too soon after the last scan
    expect(idx.nameOf(b, null, 1200)).toBeNull(); // looked for at 500: not again before 1500
    expect(idx.scans).toBe(1);
    expect(idx.nameOf(b, null, 1500)?.path).toBe('/b.slice');
    expect(idx.scans).toBe(2);
    expect(idx.nameOf(987654321, null, 2500)).toBeNull(); // a rescan, which does not find it
    expect(idx.nameOf(987654321, null, 9000)).toBeNull(); // gone for good: no rescan
    expect(idx.scans).toBe(3);
  });

  it('an unnamed id costs one /proc read per interval, not one per reset', () => {
    const t = tree('/a.slice');
    const idx = new CgroupIndex({ root: t.root, procRoot: t.proc, minRescanMs: 1000 });
    idx.scan(0);
    mkdirSync(`${t.root}/late.service`);
    const late = t.id('/late.service');
    expect(idx.nameOf(late, 77, 10)).toBeNull(); // pid 77 has no /proc entry yet
    inCgroup(t.proc, 77, '/late.service');
    expect(idx.nameOf(late, 77, 20)).toBeNull(); // not read again so soon
    expect(idx.nameOf(late, 77, 1010)?.path).toBe('/late.service');
    expect(idx.scans).toBe(1);
  });

  it('holds at most maxEntries names, dropping the least recently used', () => {
    const t = tree('/a', '/b', '/c');
    const idx = new CgroupIndex({ root: t.root, procRoot: t.proc, maxEntries: 3, minRescanMs: 0 });
    idx.scan(0); // root, a, b, c: one more than fits
    expect(idx.size).toBe(3);
    expect(idx.nameOf(t.id('/a'), null, 1)?.path).toBe('/a'); // a is now the most recent
    mkdirSync(`${t.root}/d`);
    inCgroup(t.proc, 9, '/d');
    expect(idx.nameOf(t.id('/d'), 9, 2)?.path).toBe('/d');
    expect(idx.size).toBe(3);
    expect(idx.nameOf(t.id('/a'), null, 3)?.path).toBe('/a');
  });

  it('without a cgroup2 mount nothing is named and nothing is scanned', () => {
    const idx = new CgroupIndex({ root: null });
    idx.scan();
    expect(idx.nameOf(1, 1)).toBeNull();
    expect(idx.size).toBe(0);
  });
});

describe('kernelCgroupVerdicts', () => {
  const known: [number, CgroupName][] = [
    [1, cgroupName('/')],
    [2, cgroupName('/system.slice/nginx.service')],
    [3, cgroupName(`/system.slice/docker-${ID}.scope`)],
    [4, cgroupName('/user.slice/user-1000.slice/session-2.scope')],
  ];
  it('judges every known cgroup by the name filters, as user space would', () => {
    expect(kernelCgroupVerdicts({ containers: ['abab'] }, known)).toEqual([1, false, 2, false, 3, true, 4, false]);
    expect(kernelCgroupVerdicts({ cgroupPaths: ['/system.slice'], units: ['nginx'] }, known)).toEqual([1, false, 2, true, 3, false, 4, false]);
    // ids and paths of one --cgroup list are alternatives
    expect(kernelCgroupVerdicts({ cgroupPaths: ['/user.slice'], cgroups: [2] }, known)).toEqual([1, false, 2, true, 3, false, 4, true]);
  });
  it('several ids are judged too; nothing for the kernel without a cgroup filter', () => {
    expect(kernelCgroupVerdicts({ cgroups: [2, 4], ports: [80] }, known)).toEqual([1, false, 2, true, 3, false, 4, true]);
    expect(kernelCgroupVerdicts({ ports: [80] }, known)).toEqual([]);
    expect(kernelCgroupVerdicts({}, known)).toEqual([]);
  });
});

/** A lookup that names each id from a table and counts the questions. */
class FakeCgroups implements CgroupLookup {
  calls = 0;
  constructor(readonly table: Map<number, string>) {}
  nameOf(id: number): CgroupName | null {
    this.calls++;
    const p = this.table.get(id);
    return p === undefined ? null : cgroupName(p);
  }
}

/** The storm's received records carry cgroup id 7000; the second half of each batch gets `other`. */
function batches(other: number): Batch[] {
  return [...stormBatches(4096, 1024)].map((b) => {
    const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
    for (let i = b.records / 2; i < b.records; i++) {
      const o = i * RECORD_SIZE;
      if (dv.getBigUint64(o + OFFSETS.cgroup_id, true) !== 0n) dv.setBigUint64(o + OFFSETS.cgroup_id, BigInt(other), true);
    }
    return b;
  });
}

const clock = (): WallClock => new WallClock(BigInt(BOOT_TO_WALL));

describe('the pipeline and the trace file', () => {
  const docker = `/system.slice/docker-${ID}.scope`;

  it('events carry cgroup and container; a storm of one cgroup asks the lookup once', () => {
    const cgroups = new FakeCgroups(new Map([[7000, docker]]));
    const p = new Pipeline({ clock: clock(), proc: new FakeProc(), reasons: new Map(REASONS), cgroups });
    const [b] = [...stormBatches(2048, 2048)];
    const events = p.processBatch(b.bytes, b.records);
    const rec = events.filter((e) => e.kind === 'received');
    expect(rec.length).toBe(1024);
    expect(rec.every((e) => e.cgroup === docker && e.container === ID)).toBe(true);
    expect(events.filter((e) => e.kind === 'sent').every((e) => e.cgroup === null && e.container === null)).toBe(true);
    expect(cgroups.calls).toBe(1);
  });

  it('the metrics counting path labels the container, as the event path does', async () => {
    const cgroups = new FakeCgroups(new Map([[7000, docker], [7001, '/system.slice/nginx.service']]));
    const counted = new MetricsSink({ processMetrics: false });
    const fromEvents = new MetricsSink({ processMetrics: false });
    const a = new Pipeline({ clock: clock(), proc: new FakeProc(), reasons: new Map(REASONS), cgroups });
    const b = new Pipeline({ clock: clock(), proc: new FakeProc(), reasons: new Map(REASONS), cgroups });
    for (const batch of batches(7001)) {
      a.countBatch(batch.bytes, batch.records, counted);
      fromEvents.writeBatch(b.processBatch(batch.bytes, batch.records));
    }
    const text = await counted.metrics();
    expect(text).toBe(await fromEvents.metrics());
    expect(text).toContain(`rstrace_resets_total{kind="received",code="0",code_key="remote-reset",comm="loadgen",container="${ID}",unit=""} 1024\n`);
    expect(text).toContain('rstrace_resets_total{kind="received",code="0",code_key="remote-reset",comm="loadgen",container="",unit="nginx.service"} 1024\n');
  });

  it('the file records each name once, before its first batch, and a reader with no tree names them as live did', () => {
    const path = join(tmp, 'cg.rst');
    const liveTree = new FakeCgroups(new Map([[7000, docker], [7001, '/system.slice/nginx.service']]));
    const w = TraceFileWriter.open(path, headerInput(), new FakeProc(), liveTree);
    const p = new Pipeline({ clock: clock(), proc: w.owners, cgroups: w.cgroups, reasons: new Map(REASONS) });
    const live = [];
    for (const b of batches(7001)) {
      w.writeBatch(b.bytes, b.records);
      live.push(...p.processBatch(b.bytes, b.records));
    }
    live.push(...p.flush());
    w.close({ delivered: 4096, lost: 0, filtered: 0 });
    expect(liveTree.calls).toBe(2); // once per id, for the whole file
    const read = readTraceFile(path);
    expect(read.damage).toBeNull();
    expect(read.events.map((e) => [e.cgroupId, e.cgroup, e.container])).toEqual(live.map((e) => [e.cgroupId, e.cgroup, e.container]));
    expect(new Set(read.events.map((e) => e.cgroup))).toEqual(new Set([null, docker, '/system.slice/nginx.service']));
  });

  it('a live --container/--unit/--cgroup PATH filter is stored in the header and applied again when the file is read', () => {
    const path = join(tmp, 'filtered.rst');
    const tree = new FakeCgroups(new Map([[7000, docker], [7001, '/system.slice/nginx.service']]));
    const w = TraceFileWriter.open(path, headerInput({ filter: { units: ['nginx'], cgroupPaths: ['/system.slice'] } }), new FakeProc(), tree);
    for (const b of batches(7001)) w.writeBatch(b.bytes, b.records);
    w.close({ delivered: 4096, lost: 0, filtered: 0 });
    const read = readTraceFile(path);
    expect(read.header.filter).toEqual({ units: ['nginx'], cgroupPaths: ['/system.slice'] });
    expect(read.events.length).toBe(1024);
    expect(read.events.every((e) => e.cgroup === '/system.slice/nginx.service')).toBe(true);
    const byContainer = join(tmp, 'by-container.rst');
    const w2 = TraceFileWriter.open(byContainer, headerInput({ filter: { containers: [ID.slice(0, 6)] } }), new FakeProc(), tree);
    for (const b of batches(7001)) w2.writeBatch(b.bytes, b.records);
    w2.close({ delivered: 4096, lost: 0, filtered: 0 });
    expect(readTraceFile(byContainer).events.map((e) => e.container)).toEqual(Array(1024).fill(ID));
  });

  it('an id the tree cannot name yet is asked again with the next batch, and the file and live agree on both', () => {
    const path = join(tmp, 'late.rst');
    const liveTree = new FakeCgroups(new Map());
    const w = TraceFileWriter.open(path, headerInput(), new FakeProc(), liveTree);
    const p = new Pipeline({ clock: clock(), proc: w.owners, cgroups: w.cgroups, reasons: new Map(REASONS) });
    const live = [];
    for (const [i, b] of [...stormBatches(4096, 1024)].entries()) {
      if (i === 2) liveTree.table.set(7000, docker); // the rescan found it
      w.writeBatch(b.bytes, b.records);
      live.push(...p.processBatch(b.bytes, b.records));
    }
    w.close({ delivered: 4096, lost: 0, filtered: 0 });
    const read = readTraceFile(path).events.filter((e) => e.kind === 'received');
    const named = live.filter((e) => e.kind === 'received').map((e) => e.cgroup);
    expect(named.slice(0, 1024)).toEqual(Array(1024).fill(null));
    expect(named.slice(1024)).toEqual(Array(1024).fill(docker));
    expect(read.map((e) => e.cgroup)).toEqual(named);
  });
});
