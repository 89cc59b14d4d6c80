/** `--json`: one line per event on stdout, written in chunks. */
import type { ResetEvent } from '../event.js';
import { toJsonLine } from './jsonl.js';

/** Text gathered before a write: big enough for few writes, small enough to die young in the heap. */
const CHUNK_CHARS = 256 << 10;

export class JsonLinesSink {
  private text = '';

  constructor(private readonly out: (text: string) => void) {}

  writeBatch(events: readonly ResetEvent[]): void {
    for (const e of events) this.write(e);
    this.end();
  }

  /** One event; `e` may be reused by the caller once this returns. */
  write(e: ResetEvent): void {
    this.text += toJsonLine(e) + '\n';
    if (this.text.length >= CHUNK_CHARS) this.end();
  }

  /** Writes what is gathered (at the end of each batch). */
  end(): void {
    if (this.text.length === 0) return;
    const text = this.text;
    this.text = '';
    this.out(text);
  }
}
