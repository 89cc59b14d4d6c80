/**
 * Cause before effect, within one batch. The kernel reports a RST it sends
 * (trace_tcp_send_reset) after transmitting it, and on loopback or a veth
 * pair the transmit runs the peer's receive path at once: the peer's
 * `received` record reaches the ring before the `sent` record that caused it.
 * Here a received (or ignored) record whose reversed 4-tuple matches a later
 * sent record of the same batch is moved to just after that sent record,
 * keeping the order of everything else, unless its cause is already among the
 * few records just before it (a later match is then another RST on the same
 * connection). Nothing is held across batches.
 *
 * It runs on the raw batch, before the trace file and the pipeline, so that
 * the table, --json, metrics, the trace file and what `export` later reads
 * from it all have one order. Cost: a batch with no effect before a sent
 * record (most batches, and every refused-connect storm batch where the pairs
 * arrive in order is checked by one hash probe per record) is only read;
 * bytes are copied only for the span that moves.
 */
import { KIND, OFFSETS, RECORD_SIZE } from './decode.js';

const O = OFFSETS;

function isEffect(kind: number): boolean {
  return kind === KIND.RECEIVED || kind === KIND.IGNORED;
}

export class CauseOrder {
  /** records moved so far */
  moved = 0;
  /** open-addressing table: sent record index + 1 (0: empty in this generation) */
  private slots = new Int32Array(0);
  private stamps = new Uint32Array(0);
  private generation = 0;
  /** per sent record: the first effect moved after it (-1: none); per effect: the next one */
  private head = new Int32Array(0);
  private next = new Int32Array(0);
  private target = new Int32Array(0);
  private scratch = new Uint8Array(0);

  /** Reorders `batch` (its first `records` records) in place; returns how many records moved. */
  apply(batch: Uint8Array, records: number): number {
    const n = Math.min(records, Math.floor(batch.byteLength / RECORD_SIZE));
    // Anything to do at all: an effect somewhere before a sent record.
    let first = -1;
    let candidate = false;
    for (let i = 0; i < n; i++) {
      const kind = batch[i * RECORD_SIZE + O.kind];
      if (first < 0) {
        if (isEffect(kind)) first = i;
      } else if (kind === KIND.SENT) {
        candidate = true;
        break;
      }
    }
    if (!candidate) return 0;
    return this.reorder(batch, n, first);
  }

  private reorder(batch: Uint8Array, n: number, first: number): number {
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    this.ensure(n);
    const { head, next, target } = this;
    head.fill(-1, first, n);
    target.fill(-1, first, n);
    const mask = this.slots.length - 1;
    const gen = this.nextGeneration();
    let moved = 0;
    let lo = n;
    let hi = -1;
    // Backwards: the table holds the sent records after i, the earliest one per tuple.
    for (let i = n - 1; i >= first; i--) {
      const base = i * RECORD_SIZE;
      const kind = batch[base + O.kind];
      if (kind === KIND.SENT) {
        let s = tupleHash(dv, base, false) & mask;
        for (;;) {
          if (this.stamps[s] !== gen) { this.stamps[s] = gen; this.slots[s] = i + 1; break; }
          const j = this.slots[s] - 1;
          if (sameTuple(dv, j * RECORD_SIZE, base, false)) { this.slots[s] = i + 1; break; }
          s = (s + 1) & mask;
        }
      } else if (isEffect(kind) && !causedJustBefore(batch, dv, i)) {
        let s = tupleHash(dv, base, true) & mask;
        while (this.stamps[s] === gen) {
          const j = this.slots[s] - 1;
          if (sameTuple(dv, j * RECORD_SIZE, base, true)) {
            // walking backwards, prepending keeps the moved records in their order
            target[i] = j;
            next[i] = head[j];
            head[j] = i;
            moved++;
            lo = i;
            if (j > hi) hi = j;
            break;
          }
          s = (s + 1) & mask;
        }
      }
    }
    if (moved === 0) return 0;
    this.rewrite(batch, lo, hi);
    this.moved += moved;
    return moved;
  }

  /** Records lo..hi in their new order, written back in place. */
  private rewrite(batch: Uint8Array, lo: number, hi: number): void {
    const bytes = (hi - lo + 1) * RECORD_SIZE;
    if (this.scratch.byteLength < bytes) this.scratch = new Uint8Array(bytes);
    const out = this.scratch;
    let at = 0;
    const copy = (k: number): void => {
      out.set(batch.subarray(k * RECORD_SIZE, (k + 1) * RECORD_SIZE), at);
      at += RECORD_SIZE;
    };
    for (let k = lo; k <= hi; k++) {
      if (this.target[k] >= 0) continue;
      copy(k);
      for (let m = this.head[k]; m >= 0; m = this.next[m]) copy(m);
    }
    batch.set(out.subarray(0, bytes), lo * RECORD_SIZE);
  }

  private ensure(n: number): void {
    if (this.head.length < n) {
      const size = Math.max(n, 64);
      this.head = new Int32Array(size);
      this.next = new Int32Array(size);
      this.target = new Int32Array(size);
    }
    let table = 64;
    while (table < 2 * n) table *= 2;
    if (this.slots.length < table) {
      this.slots = new Int32Array(table);
      this.stamps = new Uint32Array(table);
      this.generation = 0;
    }
  }

  private nextGeneration(): number {
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.stamps.fill(0);
      this.generation = 1;
    }
    return this.generation;
  }
}

/** How far back a cause counts as already before its effect: records of other CPUs may come between. */
const CAUSE_BEHIND = 4;

function causedJustBefore(batch: Uint8Array, dv: DataView, i: number): boolean {
  for (let k = i - 1; k >= 0 && k >= i - CAUSE_BEHIND; k--) {
    if (batch[k * RECORD_SIZE + O.kind] === KIND.SENT && sameTuple(dv, k * RECORD_SIZE, i * RECORD_SIZE, true)) return true;
  }
  return false;
}

/**
 * The connection as the sender sees it: (laddr, lport, raddr, rport), read
 * reversed for an effect so that a RST and its receipt hash alike.
 */
function tupleHash(dv: DataView, base: number, reversed: boolean): number {
  const a = base + (reversed ? O.raddr : O.laddr);
  const b = base + (reversed ? O.laddr : O.raddr);
  const pa = dv.getUint16(base + (reversed ? O.rport : O.lport), true);
  const pb = dv.getUint16(base + (reversed ? O.lport : O.rport), true);
  let h = Math.imul(dv.getUint32(a, true) ^ dv.getUint32(a + 12, true), 0x9e3779b1);
  h = Math.imul(h ^ dv.getUint32(b, true) ^ dv.getUint32(b + 12, true), 0x85ebca6b);
  h = Math.imul(h ^ ((pa << 16) | pb), 0xc2b2ae35);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Whether the sent record at `sent` has the 4-tuple of `other` (reversed when `other` is an effect). */
function sameTuple(dv: DataView, sent: number, other: number, reversed: boolean): boolean {
  if (dv.getUint16(sent + O.family, true) !== dv.getUint16(other + O.family, true)) return false;
  if (dv.getUint16(sent + O.lport, true) !== dv.getUint16(other + (reversed ? O.rport : O.lport), true)) return false;
  if (dv.getUint16(sent + O.rport, true) !== dv.getUint16(other + (reversed ? O.lport : O.rport), true)) return false;
  const la = other + (reversed ? O.raddr : O.laddr);
  const ra = other + (reversed ? O.laddr : O.raddr);
  for (let k = 0; k < 16; k += 4) {
    if (dv.getUint32(sent + O.laddr + k, true) !== dv.getUint32(la + k, true)) return false;
    if (dv.getUint32(sent + O.raddr + k, true) !== dv.getUint32(ra + k, true)) return false;
  }
  return true;
}
