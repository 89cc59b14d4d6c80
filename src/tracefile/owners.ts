/**
 * /proc attribution is the one fact of an event that exists only live. The
 * writer asks /proc for every record that may need it (a socket, no owner
 * from the kernel, an inode) and writes the answer before the batch when it
 * is new or changed; the live pipeline is handed the same answers, and the
 * reader rebuilds them, so live and read-time attribution cannot differ.
 */
import { FLAG, OFFSETS, RECORD_SIZE, u64 } from '../decode.js';
import type { OwnerLookup, ProcOwner } from '../enrich/proc.js';
import { MAX_OWNERS } from './format.js';

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
