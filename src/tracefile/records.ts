/**
 * Kernel records <-> the payload of a batch value. Each record is coded
 * against the previous record of the same kind (a storm alternates `sent`
 * and `received` records, which differ in most words but repeat their own
 * kind closely): a mask saying which 32-bit words changed, then for each
 * changed word the wrapping difference as a zigzag LEB128 varint.
 * Timestamps, ports and cookies move by small steps, so most changed words
 * take 1-3 bytes. The mask is a LEB128 varint too: bits 0-1 are the
 * reference slot (kind & 3), bit 2 + i is word WORD_ORDER[i]; the words
 * that change in a storm come first, so the mask is usually one byte.
 */
import { OFFSETS, RECORD_SIZE } from '../decode.js';
import { KIND_OFFSET, RECORD_WORDS } from './format.js';

const SLOTS = 4;
/** the longest mask (RECORD_WORDS + 2 bits, 7 per LEB128 byte) + the longest varint for every word */
export const MAX_CODED_RECORD = Math.ceil((RECORD_WORDS + 2) / 7) + RECORD_WORDS * 5;

/** Mask bit order: the words that change from record to record first, then the rest ascending. */
export const WORD_ORDER: readonly number[] = (() => {
  const first = ['ts_ns', 'lport', 'cookie', 'ino', 'ctx_tid', 'owner_tid', 'unsent', 'unread', 'cgroup_id',
    'owner_pid', 'ctx_pid', 'reason', 'kind', 'tcp_flags', 'flags', 'syscall'] as const;
  const order = [...new Set(first.map((f) => OFFSETS[f] >> 2))];
  for (let w = 0; w < RECORD_WORDS; w++) if (!order.includes(w)) order.push(w);
  return order;
})();
const ORDER = Uint8Array.from(WORD_ORDER);

/** The delta references; one per side (writer and reader each keep their own). */
export class RecordRefs {
  readonly words = new Uint32Array(SLOTS * RECORD_WORDS);
  /** each slot's words, as views made once (a record is copied out with one native set) */
  readonly slot: readonly Uint32Array[] = Array.from({ length: SLOTS }, (_, i) => this.words.subarray(i * RECORD_WORDS, (i + 1) * RECORD_WORDS));
}

/**
 * Append the coding of `records` records from `words` (host-order 32-bit
 * words, RECORD_WORDS per record) to `out` at `pos`; returns the new
 * position. `out` must have room for records * MAX_CODED_RECORD bytes.
 */
export function encodeRecords(refs: RecordRefs, words: Uint32Array, records: number, out: Uint8Array, pos: number): number {
  const ref = refs.words;
  const kindWord = KIND_OFFSET >> 2;
  const kindShift = (KIND_OFFSET & 3) * 8;
  const body = new Uint8Array(RECORD_WORDS * 5);
  for (let r = 0; r < records; r++) {
    const base = r * RECORD_WORDS;
    const slot = (words[base + kindWord] >>> kindShift) & (SLOTS - 1);
    const rb = slot * RECORD_WORDS;
    let lo = slot; // mask bits 0-29
    let hi = 0; // mask bits 30 and up (RECORD_WORDS + 2 bits in all)
    let n = 0;
    for (let i = 0; i < RECORD_WORDS; i++) {
      const w = ORDER[i];
      const v = words[base + w];
      const old = ref[rb + w];
      if (v === old) continue;
      ref[rb + w] = v;
      if (i < 28) lo |= 1 << (i + 2); else hi |= 1 << (i - 28);
      const d = (v - old) | 0;
      let z = ((d << 1) ^ (d >> 31)) >>> 0;
      while (z > 0x7f) { body[n++] = (z & 0x7f) | 0x80; z >>>= 7; }
      body[n++] = z;
    }
    // mask = lo (30 bits) + hi * 2^30, as LEB128
    while (hi !== 0 || lo > 0x7f) {
      out[pos++] = (lo & 0x7f) | 0x80;
      lo = (lo >>> 7) | ((hi & 0x7f) << 23);
      hi >>>= 7;
    }
    out[pos++] = lo;
    for (let k = 0; k < n; k++) out[pos++] = body[k]; // a subarray per record would allocate

  }
  return pos;
}

/**
 * Decode a whole batch payload into `out` (host-order words). Returns the
 * record count, or a string saying what is wrong (hostile input: the first
 * bad byte ends the batch, and nothing is written past `out`'s capacity).
 */
export function decodeRecords(refs: RecordRefs, src: Uint8Array, out: Uint32Array, maxRecords: number): number | string {
  const ref = refs.words;
  const kindWord = KIND_OFFSET >> 2;
  const kindShift = (KIND_OFFSET & 3) * 8;
  const maxBits = RECORD_WORDS + 2;
  let pos = 0;
  let r = 0;
  const end = src.length;
  while (pos < end) {
    if (r >= maxRecords) return `more than ${maxRecords} records in one batch`;
    // mask: up to RECORD_WORDS + 2 bits; lo gets bits 0-29, hi the rest
    let lo = src[pos];
    let hi = 0;
    if (lo < 0x80) pos++; // one byte: the storm's case (the words that change first in WORD_ORDER)
    else {
      lo = 0;
      for (let shift = 0; ; shift += 7) {
        if (pos >= end) return 'batch ends inside a record mask';
        if (shift >= maxBits) return 'record mask too long';
        const b = src[pos++] & 0x7f;
        const more = src[pos - 1] & 0x80;
        if (shift < 30) {
          lo |= (b << shift) & 0x3fffffff;
          if (shift + 7 > 30) hi |= b >>> (30 - shift);
        } else hi |= b << (shift - 30);
        if (!more) break;
      }
      if (hi >>> (maxBits - 30)) return 'record mask names a word past the record';
    }
    const slot = lo & (SLOTS - 1);
    const rb = slot * RECORD_WORDS;
    const base = r * RECORD_WORDS;
    // only the set bits, in mask order (lo's words, then hi's), as the writer wrote them
    for (let half = 0; half < 2; half++) {
      let m = half === 0 ? lo >>> 2 : hi;
      const first = half === 0 ? 0 : 28;
      while (m !== 0) {
        const i = first + 31 - Math.clz32(m & -m);
        m &= m - 1;
        if (pos >= end) return 'batch ends inside a record';
        let z = src[pos++];
        if (z >= 0x80) {
          z &= 0x7f;
          for (let shift = 7; ; shift += 7) {
            if (pos >= end) return 'batch ends inside a record';
            const b = src[pos++];
            if (shift === 28 && b > 0x0f) return 'varint longer than 32 bits';
            z |= (b & 0x7f) << shift;
            if (b < 0x80) break;
          }
          z >>>= 0;
        }
        const w = rb + ORDER[i];
        ref[w] = (ref[w] + ((z >>> 1) ^ -(z & 1))) >>> 0;
      }
      if (hi === 0) break;
    }
    if (((ref[rb + kindWord] >>> kindShift) & (SLOTS - 1)) !== slot) return 'record kind does not match its reference slot';
    out.set(refs.slot[slot], base);
    r++;
  }
  return r;
}

/** A batch's bytes as aligned host-order words (copied only when the Buffer is unaligned). */
export function recordWords(batch: Uint8Array, records: number, scratch: { buf: Uint32Array }): Uint32Array {
  const n = records * RECORD_WORDS;
  if ((batch.byteOffset & 3) === 0) return new Uint32Array(batch.buffer, batch.byteOffset, n);
  if (scratch.buf.length < n) scratch.buf = new Uint32Array(n);
  new Uint8Array(scratch.buf.buffer, 0, records * RECORD_SIZE).set(batch.subarray(0, records * RECORD_SIZE));
  return scratch.buf;
}
