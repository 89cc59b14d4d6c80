/**
 * Drops the kernel's phantom "received" reset. When data reaches a socket the
 * application already closed, tcp_rcv_state_process() calls tcp_reset() (which
 * fires tcp_receive_reset although no RST arrived) and then sends a RST with
 * reason TCP_ABORT_ON_DATA. The pair is produced back to back on one CPU; the
 * received half is held until the sent half shows up or one more batch has
 * passed.
 */
import { FLAG, KIND, type RawRecord } from './decode.js';
import { TCP_STATE } from './kernel/names.js';

function maybePhantom(r: RawRecord): boolean {
  return (
    r.kind === KIND.RECEIVED &&
    (r.flags & FLAG.DEAD) !== 0 &&
    (r.state === TCP_STATE.FIN_WAIT1 || r.state === TCP_STATE.FIN_WAIT2)
  );
}

export class PhantomResetFilter {
  private held: RawRecord[] = [];
  dropped = 0;

  /** @param isAbortOnData whether a record is the sent RST with reason TCP_ABORT_ON_DATA */
  constructor(private readonly isAbortOnData: (r: RawRecord) => boolean) {}

  /** Returns the records to pass on, in order; may hold some back for one batch. */
  push(batch: RawRecord[]): RawRecord[] {
    const carried = this.held;
    this.held = [];
    if (carried.length === 0 && !batch.some(maybePhantom)) return batch;
    const all = carried.length ? carried.concat(batch) : batch;
    const abortedCookies = new Set<string>();
    for (const r of all) if (this.isAbortOnData(r)) abortedCookies.add(r.cookie);
    const out: RawRecord[] = [];
    for (let i = 0; i < all.length; i++) {
      const r = all[i];
      if (!maybePhantom(r)) { out.push(r); continue; }
      if (abortedCookies.has(r.cookie)) { this.dropped++; continue; }
      // Not matched yet: a fresh one waits for the next batch, a carried one goes on.
      if (i >= carried.length) this.held.push(r);
      else out.push(r);
    }
    return out;
  }

  /** At the end of a trace: whatever is still held was a real RST. */
  flush(): RawRecord[] {
    const rest = this.held;
    this.held = [];
    return rest;
  }
}
