/**
 * Batches from the addon, queued on the JS side and worked off in
 * setImmediate turns. The addon's thread-safe function calls back batch after
 * batch without returning to the event loop while more are waiting, and the
 * memory of a batch goes back to the addon's pool only from a native
 * immediate (the Buffer's finalizer): worked off inside the callbacks, a
 * storm piles up hundreds of finished but unreleased batches (measured: RSS
 * over 300 MB). Here each callback only queues; at QUEUE_LIMIT batches the
 * tracer stops reading the ring (the kernel's ring buffer holds the rest, and
 * counts what it cannot).
 *
 * Each batch is also copied at once into a reused JS-owned buffer and the
 * addon's Buffer let go: V8 does not see the addon's memory behind a Buffer,
 * and a Buffer still referenced while a --json batch is worked off outlives
 * two scavenges, is promoted, and waits for a rare full GC (measured: 50-70
 * batches, 60-80 MB, alive at once). The copy costs about 10 ns per record.
 */
import { RECORD_SIZE } from './decode.js';
import { CONST } from './kernel/layout.generated.js';

/** The tracer's read side, shared with other reasons to stop reading (a full stdout). */
export interface Flow {
  pause(): void;
  resume(): void;
}

/** Pauses `flow` while any holder wants it paused. */
export class FlowGate {
  private readonly holders = new Set<string>();

  constructor(private readonly flow: Flow) {}

  hold(who: string): void {
    if (this.holders.size === 0) this.flow.pause();
    this.holders.add(who);
  }

  release(who: string): void {
    if (this.holders.delete(who) && this.holders.size === 0) this.flow.resume();
  }

  /** A Flow for one holder. */
  as(who: string): Flow {
    return { pause: () => this.hold(who), resume: () => this.release(who) };
  }
}

/** Batches queued before the tracer is paused; each is up to RST_BATCH_RECORDS records (bpf/rstrace.h). */
export const QUEUE_LIMIT = 8;

/** Bytes of the largest batch the addon hands over. */
const COPY_BYTES = CONST.BATCH_RECORDS * RECORD_SIZE;
/** Copies kept for reuse: the queue plus the batches the addon may still send while paused. */
const SPARE_COPIES = 8;

export class BatchQueue {
  private readonly batches: Uint8Array[] = [];
  private readonly spare: Uint8Array[] = [];
  private readonly counts: number[] = [];
  private scheduled = false;
  private full = false;

  constructor(private readonly gate: FlowGate, private readonly work: (batch: Uint8Array, records: number) => void) {}

  /** The addon's callback: copy, queue and return. */
  readonly push = (batch: Uint8Array, records: number): void => {
    this.batches.push(this.copy(batch));
    this.counts.push(records);
    if (!this.full && this.batches.length >= QUEUE_LIMIT) {
      this.full = true;
      this.gate.hold('queue');
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  };

  /** Works off everything queued now (at the end of a trace). */
  drain(): void {
    while (this.batches.length) this.one();
  }

  private readonly turn = (): void => {
    this.scheduled = false;
    // One batch per turn: the finalizers of the batches already worked off run in between.
    if (this.batches.length) this.one();
    if (this.batches.length) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  };

  private one(): void {
    const batch = this.batches.shift()!;
    const records = this.counts.shift()!;
    if (this.full && this.batches.length < QUEUE_LIMIT / 2) {
      this.full = false;
      this.gate.release('queue');
    }
    this.work(batch, records);
    if (this.spare.length < SPARE_COPIES && batch.buffer.byteLength >= COPY_BYTES) this.spare.push(new Uint8Array(batch.buffer));
  }

  private copy(batch: Uint8Array): Uint8Array {
    let into = this.spare.pop();
    if (!into || into.byteLength < batch.byteLength) into = new Uint8Array(Math.max(COPY_BYTES, batch.byteLength));
    into.set(batch);
    return into.subarray(0, batch.byteLength);
  }
}
