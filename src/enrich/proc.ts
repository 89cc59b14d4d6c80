/**
 * /proc look-ups: socket inode -> owning process, for sockets that existed
 * before rstrace started (the kernel never saw them being connected), and
 * process names. Scans are rate-limited and never wait on a process that is
 * gone: a vanished /proc entry is simply skipped.
 */
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';

export interface ProcOwner {
  pid: number;
  comm: string | null;
}

/**
 * Socket inode -> owning process. The live trace scans /proc; a reader that
 * replays a trace file brings its own (e.g. the owners recorded in the file).
 */
export interface OwnerLookup {
  ownerOf(ino: number): ProcOwner | null;
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

export class ProcIndex implements OwnerLookup {
  private byInode = new Map<number, number>();
  private lastScan = 0;
  private readonly comms = new Map<number, string | null>();
  private readonly missed = new Set<number>();

  /** @param minRescanMs a miss triggers at most one rescan per this interval */
  constructor(private readonly procRoot = '/proc', private readonly minRescanMs = 100) {}

  /** Index every socket of every process now (at start, before hooks fire). */
  scan(now = Date.now()): void {
    const next = new Map<number, number>();
    let pids: string[];
    try {
      pids = readdirSync(this.procRoot);
    } catch {
      return;
    }
    for (const name of pids) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      let fds: string[];
      try {
        fds = readdirSync(`${this.procRoot}/${name}/fd`);
      } catch {
        continue; // gone, or not ours to read
      }
      let holdsSockets = false;
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`${this.procRoot}/${name}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = SOCKET_LINK.exec(link);
        if (m && !next.has(Number(m[1]))) {
          next.set(Number(m[1]), pid);
          holdsSockets = true;
        }
      }
      // Name it now (a process found by a late rescan may be gone a moment later),
      // and afresh each scan, in case the pid was reused.
      if (holdsSockets) {
        this.comms.delete(pid);
        this.comm(pid);
      }
    }
    this.byInode = next;
    this.lastScan = now;
  }

  get size(): number {
    return this.byInode.size;
  }

  /** The process holding socket inode `ino`, rescanning at most once per interval on a miss. */
  ownerOf(ino: number, now = Date.now()): ProcOwner | null {
    if (ino === 0) return null;
    let pid = this.byInode.get(ino);
    if (pid === undefined && !this.missed.has(ino) && now - this.lastScan >= this.minRescanMs) {
      this.scan(now);
      pid = this.byInode.get(ino);
      // An inode no process holds (orphaned by close()) will not appear later: don't rescan for it.
      if (pid === undefined) {
        if (this.missed.size > 65536) this.missed.clear();
        this.missed.add(ino);
      }
    }
    return pid === undefined ? null : { pid, comm: this.comm(pid) };
  }

  comm(pid: number): string | null {
    if (this.comms.has(pid)) return this.comms.get(pid) ?? null;
    let c: string | null = null;
    try {
      c = readFileSync(`${this.procRoot}/${pid}/comm`, 'utf8').replace(/\n$/, '');
    } catch {
      c = null;
    }
    if (this.comms.size > 10000) this.comms.clear();
    this.comms.set(pid, c);
    return c;
  }
}
