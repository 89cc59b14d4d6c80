/**
 * /proc attribution and cgroup names are the facts of an event that exist only live. The
 * writer asks /proc for every record that may need it (a socket, no owner
 * from the kernel, an inode) and writes the answer before the batch when it
 * is new or changed; the live pipeline is handed the same answers, and the
 * reader rebuilds them, so live and read-time attribution cannot differ.
 */
import { FLAG, OFFSETS, RECORD_SIZE, u64 } from '../decode.js';
import { cgroupName, type CgroupLookup, type CgroupName } from '../enrich/cgroup.js';
import type { OwnerLookup, ProcOwner } from '../enrich/proc.js';
import { MAX_CGROUPS, MAX_OWNERS } from './format.js';

const NEEDS = FLAG.HAS_SK | FLAG.OWNER_KNOWN;

/** The answers of the live lookup, remembered so that the pipeline gets exactly what the file records. */
export class OwnerRecorder implements OwnerLookup {
  private readonly answers = new Map<number, ProcOwner | null>();

  constructor(private readonly live: OwnerLookup) {}

  ownerOf(ino: number): ProcOwner | null {
    const a = this.answers.get(ino);
    return a !== undefined ? a : this.live.ownerOf(ino);
  }

  /**
   * Resolve the records of one batch; returns the flat [ino, pid, comm, ...]
   * list to write (empty when nothing is new), and whether the table started
   * over first.
   */
  resolve(batch: Uint8Array, records: number): { forget: boolean; changes: (number | string | null)[] } {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    let forget = false;
    const changes: (number | string | null)[] = [];
    for (let i = 0, o = 0; i < records; i++, o += RECORD_SIZE) {
      if ((dv.getUint16(o + OFFSETS.flags, true) & NEEDS) !== FLAG.HAS_SK) continue;
      const ino = u64(dv, o + OFFSETS.ino);
      if (ino === 0) continue;
      const now = this.live.ownerOf(ino);
      const before = this.answers.get(ino);
      if (before !== undefined && (before === now || (before && now && before.pid === now.pid && before.comm === now.comm))) continue;
      if (before === undefined && !forget && this.answers.size >= MAX_OWNERS) {
        this.answers.clear();
        changes.length = 0;
        forget = true;
        i = -1; o = -RECORD_SIZE; // this batch's answers go after the fresh start
        continue;
      }
      this.answers.set(ino, now);
      changes.push(ino, now ? now.pid : null, now ? now.comm : null);
    }
    return { forget, changes };
  }
}

/** The reader's side: the answers as the file recorded them. */
export class FileOwners implements OwnerLookup {
  private readonly answers = new Map<number, ProcOwner | null>();

  get size(): number {
    return this.answers.size;
  }

  ownerOf(ino: number): ProcOwner | null {
    return this.answers.get(ino) ?? null;
  }

  set(ino: number, owner: ProcOwner | null): void {
    this.answers.set(ino, owner);
  }

  forget(): void {
    this.answers.clear();
  }
}

/**
 * cgroup id -> path, resolved live once per id and written before the first
 * batch that holds the id, so that a file read later, or on another host,
 * names the cgroups the live trace named even after they are removed. The
 * live pipeline is answered from the same table: it names exactly what the
 * file records (an id the tree could not name yet is asked again with the
 * next batch that holds it).
 */
export class CgroupRecorder implements CgroupLookup {
  private readonly answers = new Map<number, CgroupName>();
  /** a storm repeats one id */
  private lastId = 0;

  constructor(private readonly live: CgroupLookup) {}

  nameOf(id: number): CgroupName | null {
    return this.answers.get(id) ?? null;
  }

  /** Name the cgroup ids of one batch; returns the flat [id, path, ...] list to write, and whether the table started over first. */
  resolve(batch: Uint8Array, records: number): { forget: boolean; changes: (number | string)[] } {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    let forget = false;
    const changes: (number | string)[] = [];
    for (let i = 0, o = 0; i < records; i++, o += RECORD_SIZE) {
      if (!(dv.getUint16(o + OFFSETS.flags, true) & FLAG.HAS_SK)) continue;
      const id = u64(dv, o + OFFSETS.cgroup_id);
      if (id === 0 || id === this.lastId || this.answers.has(id)) continue;
      const pid = dv.getUint32(o + OFFSETS.owner_pid, true) || dv.getUint32(o + OFFSETS.ctx_pid, true);
      const name = this.live.nameOf(id, pid || null);
      if (name === null) continue;
      if (this.answers.size >= MAX_CGROUPS) {
        this.answers.clear();
        changes.length = 0;
        forget = true;
        i = -1; o = -RECORD_SIZE; // this batch's names go after the fresh start
        this.lastId = 0;
        continue;
      }
      this.answers.set(id, name);
      this.lastId = id;
      changes.push(id, name.path);
    }
    return { forget, changes };
  }
}

/** The reader's side: the cgroup names as the file recorded them. */
export class FileCgroups implements CgroupLookup {
  private readonly answers = new Map<number, CgroupName>();

  get size(): number {
    return this.answers.size;
  }

  nameOf(id: number): CgroupName | null {
    return this.answers.get(id) ?? null;
  }

  set(id: number, path: string): void {
    this.answers.set(id, cgroupName(path));
  }

  forget(): void {
    this.answers.clear();
  }
}
