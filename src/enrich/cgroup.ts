/**
 * cgroup id -> cgroup v2 path (below the cgroup2 root) and what the path
 * names (container, unit). The record carries the owner's cgroup id, which
 * on cgroup2 is the inode number of the cgroup's directory; the names come
 * from the tree:
 *
 * - the whole tree is indexed once at start (before the hooks fire), so that
 *   a cgroup that existed then is named even after it is removed;
 * - on a miss, the owner's /proc/PID/cgroup (one small read, checked against
 *   the id), else a rescan of the tree at most once per `minRescanMs`; an id
 *   still unnamed is looked for again only after that interval, so a storm
 *   from an unnamed cgroup costs a Map lookup per reset, not a read;
 * - entries live in a bounded LRU that a rescan only adds to: removed
 *   cgroups keep their names until they are the least recently used.
 *
 * A hit is a Map lookup and a move to the LRU's end (the pipeline skips even
 * that while the id repeats). A rescan blocks, so its interval also grows
 * with its cost: at least 20 times the last scan's duration, so that a host
 * with a huge tree spends at most 1/20 of its time rescanning on misses.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mountsOfType, readMountinfo } from '../kernel/mounts.js';
import { containerOf, ownerGroupOf, unitOf, type OwnerGroup } from './container.js';

export interface CgroupName {
  /** below the cgroup2 root, as /proc/PID/cgroup prints it: "/system.slice/nginx.service" */
  readonly path: string;
  readonly container: string | null;
  readonly unit: string | null;
  /** for counting sinks: the container, else the unit */
  readonly group: OwnerGroup | null;
}

/** cgroup id -> name. The live trace asks the tree; a trace file's reader answers from the file. */
export interface CgroupLookup {
  /** `pid`: the owner, whose /proc/PID/cgroup may name a cgroup the index has not seen yet */
  nameOf(id: number, pid: number | null): CgroupName | null;
}

export function cgroupName(path: string): CgroupName {
  const container = containerOf(path);
  return { path, container, unit: unitOf(path), group: ownerGroupOf(path) };
}

/** Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts); null when it is not. */
export function cgroup2Root(mountinfo: string = readMountinfo()): string | null {
  return mountsOfType(mountinfo, 'cgroup2')[0] ?? null;
}

export interface CgroupIndexOptions {
  /** the cgroup2 mount point (default: from /proc/self/mountinfo) */
  root?: string | null;
  procRoot?: string;
  /** names kept (default 65,536) */
  maxEntries?: number;
  /** a miss rescans the tree at most once per this interval (default 1,000 ms) */
  minRescanMs?: number;
  /** directories one scan visits at most (default 200,000): a bound on its time */
  maxScanDirs?: number;
}

export class CgroupIndex implements CgroupLookup {
  readonly root: string | null;
  private readonly procRoot: string;
  private readonly maxEntries: number;
  private readonly minRescanMs: number;
  private readonly maxScanDirs: number;
  /** insertion order is recency: a hit moves its entry to the end */
  private readonly names = new Map<number, CgroupName>();
  /** ids a rescan after their record did not find: gone for good (ids are never reused) */
  private readonly missed = new Set<number>();
  /** unnamed ids -> when they were last looked for: one /proc read per id and interval, not one per reset */
  private readonly tried = new Map<number, number>();
  private lastScan = -Infinity;
  /** ms the last scan took (wall clock) */
  private scanMs = 0;
  scans = 0;

  constructor(opts: CgroupIndexOptions = {}) {
    this.root = opts.root === undefined ? cgroup2Root() : opts.root;
    this.procRoot = opts.procRoot ?? '/proc';
    this.maxEntries = opts.maxEntries ?? 65536;
    this.minRescanMs = opts.minRescanMs ?? 1000;
    this.maxScanDirs = opts.maxScanDirs ?? 200_000;
  }

  get size(): number {
    return this.names.size;
  }

  /** Every name held now, by id. */
  entries(): IterableIterator<[number, CgroupName]> {
    return this.names.entries();
  }

  /** Index the whole tree now; entries of removed cgroups stay. */
  scan(now = Date.now()): void {
    this.lastScan = now;
    this.scans++;
    if (this.root === null) return;
    const started = performance.now();
    const stack: string[] = [''];
    let visited = 0;
    while (stack.length && visited < this.maxScanDirs) {
      const rel = stack.pop() as string;
      const dir = this.root + rel;
      visited++;
      const id = inodeOf(dir);
      if (id !== null && !this.names.has(id)) this.add(id, rel === '' ? '/' : rel);
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue; // removed while we walk
      }
      for (const d of entries) if (d.isDirectory()) stack.push(`${rel}/${d.name}`);
    }
    this.scanMs = performance.now() - started;
  }

  nameOf(id: number, pid: number | null, now = Date.now()): CgroupName | null {
    const hit = this.names.get(id);
    if (hit !== undefined) {
      this.names.delete(id);
      this.names.set(id, hit);
      return hit;
    }
    if (this.root === null || this.missed.has(id)) return null;
    const tried = this.tried.get(id);
    if (tried !== undefined && now - tried < Math.max(this.minRescanMs, 20 * this.scanMs)) return null;
    if (this.tried.size >= 4096) this.tried.clear();
    this.tried.set(id, now);
    if (pid !== null) {
      const path = this.pathOfPid(pid);
      if (path !== null && inodeOf(this.root + (path === '/' ? '' : path)) === id) return this.add(id, path);
    }
    if (now - this.lastScan < Math.max(this.minRescanMs, 20 * this.scanMs)) return null;
    this.scan(now);
    const found = this.names.get(id);
    if (found !== undefined) return found;
    if (this.missed.size >= 65536) this.missed.clear();
    this.missed.add(id);
    return null;
  }

  /** The process's cgroup v2 path from /proc/PID/cgroup (the "0::" line), or null. */
  private pathOfPid(pid: number): string | null {
    let text: string;
    try {
      text = readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8');
    } catch {
      return null;
    }
    for (const line of text.split('\n')) if (line.startsWith('0::/')) return line.slice(3);
    return null;
  }

  private add(id: number, path: string): CgroupName {
    if (this.names.size >= this.maxEntries) this.names.delete(this.names.keys().next().value as number);
    const name = cgroupName(path);
    this.names.set(id, name);
    return name;
  }
}

function inodeOf(dir: string): number | null {
  try {
    const st = statSync(dir, { bigint: true });
    return st.isDirectory() && st.ino <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(st.ino) : null;
  } catch {
    return null;
  }
}

/** No cgroup names (trace files from before cgroup records, tools and tests). */
export const NO_CGROUPS: CgroupLookup = { nameOf: () => null };
