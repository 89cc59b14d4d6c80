/** `--json`: one line per event on stdout, written once per batch. */
import type { ResetEvent } from '../event.js';
import { toJsonLine } from './jsonl.js';

export class JsonLinesSink {
  constructor(private readonly out: (text: string) => void) {}

  writeBatch(events: readonly ResetEvent[]): void {
    if (events.length === 0) return;
    let text = '';
    for (const e of events) text += toJsonLine(e) + '\n';
    this.out(text);
  }
}
