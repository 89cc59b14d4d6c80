/**
 * Just enough MessagePack to write trace-file records into one reusable
 * buffer: arrays, nil, integers, float64 and strings, in the same encodings
 * msgpackr reads. The trace writer's hot path allocates nothing per event;
 * msgpackr (which allocates a view per value) is kept for the rare control
 * records.
 */
export class MsgpackBuffer {
  private buf: Buffer;
  pos = 0;

  constructor(initial = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** The bytes written so far (a view, valid until the next write or reset). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  arrayHeader(n: number): void {
    this.room(5);
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) { this.buf[this.pos] = 0xdc; this.buf.writeUInt16BE(n, this.pos + 1); this.pos += 3; }
    else { this.buf[this.pos] = 0xdd; this.buf.writeUInt32BE(n, this.pos + 1); this.pos += 5; }
  }

  nil(): void {
    this.room(1);
    this.buf[this.pos++] = 0xc0;
  }

  /** Integers up to 32 bits in their shortest form; anything else as float64 (exact to 2^53). */
  number(v: number): void {
    this.room(9);
    const b = this.buf;
    if (Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
      if (v >= 0) {
        if (v < 128) b[this.pos++] = v;
        else if (v < 0x100) { b[this.pos] = 0xcc; b[this.pos + 1] = v; this.pos += 2; }
        else if (v < 0x10000) { b[this.pos] = 0xcd; b.writeUInt16BE(v, this.pos + 1); this.pos += 3; }
        else { b[this.pos] = 0xce; b.writeUInt32BE(v, this.pos + 1); this.pos += 5; }
      } else if (v >= -32) {
        b[this.pos++] = v & 0xff;
      } else if (v >= -0x80) { b[this.pos] = 0xd0; b.writeInt8(v, this.pos + 1); this.pos += 2; }
      else if (v >= -0x8000) { b[this.pos] = 0xd1; b.writeInt16BE(v, this.pos + 1); this.pos += 3; }
      else { b[this.pos] = 0xd2; b.writeInt32BE(v, this.pos + 1); this.pos += 5; }
      return;
    }
    b[this.pos] = 0xcb;
    b.writeDoubleBE(v, this.pos + 1);
    this.pos += 9;
  }

  string(s: string): void {
    const max = s.length * 3;
    this.room(max + 5);
    const b = this.buf;
    // Write the bytes after the longest header, then move them if a shorter one fits.
    const len = b.write(s, this.pos + 5, 'utf8');
    let header: number;
    if (len < 32) { b[this.pos] = 0xa0 | len; header = 1; }
    else if (len < 0x100) { b[this.pos] = 0xd9; b[this.pos + 1] = len; header = 2; }
    else if (len < 0x10000) { b[this.pos] = 0xda; b.writeUInt16BE(len, this.pos + 1); header = 3; }
    else { b[this.pos] = 0xdb; b.writeUInt32BE(len, this.pos + 1); header = 5; }
    if (header !== 5) b.copy(b, this.pos + header, this.pos + 5, this.pos + 5 + len);
    this.pos += header + len;
  }
}
