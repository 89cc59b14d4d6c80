/**
 * Drops the kernel's phantom "received" reset. When data reaches a socket the
 * application already closed, tcp_rcv_state_process() calls tcp_reset() (which
 * fires tcp_receive_reset although no RST arrived) and then sends a RST with
 * reason TCP_ABORT_ON_DATA. The pair is produced back to back on one CPU; the
 * received half is held until the sent half shows up or one more batch has
 * passed. Works on finished events, tagged while they were decoded, so the
 * common batch (no candidates) costs one branch.
 */
import { FLAG, KIND, type RawRecord } from './decode.js';
import type { ResetEvent } from './event.js';
import { TCP_STATE } from './kernel/names.js';

/** A received reset on an orphaned FIN_WAIT socket may be the phantom half. */
export function maybePhantom(r: RawRecord): boolean {
  return (
    r.kind === KIND.RECEIVED &&
    (r.flags & FLAG.DEAD) !== 0 &&
    (r.state === TCP_STATE.FIN_WAIT1 || r.state === TCP_STATE.FIN_WAIT2)
  );
}

export class PhantomResetFilter {
  private held: ResetEvent[] = [];
  private candidates: number[] = [];
  private aborted = new Set<string>();
  dropped = 0;

  /** While a batch is built: event `index` of it may be a phantom. */
  candidate(index: number): void {
    this.candidates.push(index);
  }

  /** While a batch is built: the socket with this cookie sent TCP_ABORT_ON_DATA. */
  abortedOnData(cookie: string): void {
    this.aborted.add(cookie);
  }

  /** The batch is complete: returns what to pass on, in order; may hold some back for one batch. */
  settle(batch: ResetEvent[]): ResetEvent[] {
    if (this.held.length === 0 && this.candidates.length === 0) {
      this.aborted.clear();
      return batch;
    }
    const out: ResetEvent[] = [];
    // Held from the previous batch: dropped if their sent half came now, else they were real.
    for (const e of this.held) {
      if (e.cookie !== null && this.aborted.has(e.cookie)) this.dropped++;
      else out.push(e);
    }
    this.held = [];
    const skip = new Set(this.candidates);
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i];
      if (!skip.has(i)) { out.push(e); continue; }
      if (e.cookie !== null && this.aborted.has(e.cookie)) this.dropped++;
      else this.held.push(e);
    }
    this.candidates = [];
    this.aborted.clear();
    return out;
  }

  /** At the end of a trace: whatever is still held was a real RST. */
  flush(): ResetEvent[] {
    const rest = this.held;
    this.held = [];
    return rest;
  }
}
