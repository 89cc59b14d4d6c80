/**
 * Drops the kernel's phantom "received" reset. When data reaches a socket the
 * application already closed, tcp_rcv_state_process() calls tcp_reset() (which
 * fires tcp_receive_reset although no RST arrived) and then sends a RST with
 * reason TCP_ABORT_ON_DATA. The pair is produced back to back on one CPU; the
 * received half is held until the sent half shows up or one more batch has
 * passed. The pipeline asks per record; a batch without candidates costs a
 * few comparisons per record and nothing else.
 */
import { FLAG, KIND, type RawRecord } from './decode.js';
import type { ResetEvent } from './event.js';
import { TCP_STATE } from './kernel/names.js';

const NONE: readonly ResetEvent[] = [];

export class PhantomResetFilter {
  /** held from the previous batch, waiting for this batch's sent halves */
  private held: ResetEvent[] = [];
  /** this batch's candidates, decided when the batch ends */
  private candidates: ResetEvent[] = [];
  private readonly aborted = new Set<string>();
  dropped = 0;

  /** A received reset on an orphaned FIN_WAIT socket may be the phantom half: hold() it. */
  isCandidate(r: RawRecord): boolean {
    return (
      r.kind === KIND.RECEIVED &&
      (r.flags & FLAG.DEAD) !== 0 &&
      (r.state === TCP_STATE.FIN_WAIT1 || r.state === TCP_STATE.FIN_WAIT2)
    );
  }

  /** Every other record of the batch, with its code: notes the sent halves. */
  observe(r: RawRecord, code: number): void {
    // Code 1 on a socket in CLOSE can only be TCP_ABORT_ON_DATA (TIME_WAIT has its own state).
    if (code === 1 && r.kind === KIND.SENT && r.state === TCP_STATE.CLOSE && r.cookie) this.aborted.add(r.cookie);
  }

  /** A candidate of this batch (an event of its own: the pipeline's scratch event is reused). */
  hold(e: ResetEvent): void {
    this.candidates.push(e);
  }

  /** Events held from the previous batch: the pipeline must observe() the whole batch before release(). */
  get holding(): boolean {
    return this.held.length > 0;
  }

  /** The previous batch's held events whose sent half did not come: they were real RSTs. */
  release(): readonly ResetEvent[] {
    if (this.held.length === 0) return NONE;
    const real = this.held.filter((e) => !this.isPhantom(e));
    this.dropped += this.held.length - real.length;
    this.held = [];
    return real;
  }

  /** The batch is complete: its candidates are dropped or held for one more batch. */
  endBatch(): void {
    if (this.candidates.length) {
      for (const e of this.candidates) {
        if (this.isPhantom(e)) this.dropped++;
        else this.held.push(e);
      }
      this.candidates = [];
    }
    if (this.aborted.size) this.aborted.clear();
  }

  /** At the end of a trace: whatever is still held was a real RST. */
  flush(): ResetEvent[] {
    const rest = this.held;
    this.held = [];
    return rest;
  }

  private isPhantom(e: ResetEvent): boolean {
    return e.cookie !== null && this.aborted.has(e.cookie);
  }
}
