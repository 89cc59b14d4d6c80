/** `--json`: one line per event on stdout, written in chunks of bytes. */
import type { ResetEvent } from '../event.js';
import { JsonLinesBuffer } from './jsonl.js';

/** Bytes gathered before a write: big enough for few writes, small enough to die young in the heap. */
const CHUNK_BYTES = 256 << 10;

export class JsonLinesSink {
  private readonly lines = new JsonLinesBuffer(CHUNK_BYTES);

  /** `out` keeps the chunk it is given (a stream may still hold it after returning). */
  constructor(private readonly out: (chunk: Uint8Array) => void) {}

  writeBatch(events: readonly ResetEvent[]): void {
    for (const e of events) this.write(e);
    this.end();
  }

  /** One event; `e` may be reused by the caller once this returns. */
  write(e: ResetEvent): void {
    this.lines.write(e);
    if (this.lines.full) this.end();
  }

  /** Writes what is gathered (at the end of each batch). */
  end(): void {
    if (this.lines.length === 0) return;
    this.out(this.lines.take());
  }
}
