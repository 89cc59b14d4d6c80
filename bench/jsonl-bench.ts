/**
 * The JSON-lines encoder alone, CPU per event: storm-shaped events (what a
 * reset storm makes) and varied ones (every field, nulls, odd strings), each
 * encoded the way stdout gets it: bytes in a reused buffer (JsonLinesBuffer,
 * what `trace --json` and `export` use) and, for comparison, a string per line
 * (toJsonLine) gathered and converted to bytes.
 *   npx tsx bench/jsonl-bench.ts [events=200000] [rounds=5]
 */
import { JsonLinesBuffer, toJsonLine } from '../src/sinks/jsonl.js';
import type { ResetEvent } from '../src/event.js';
import { stormEvents, variedEvents } from '../test/helpers/sample-events.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);

let sink = 0;
function bytesPath(events: readonly ResetEvent[]): void {
  const lines = new JsonLinesBuffer(1 << 20);
  for (const e of events) {
    lines.write(e);
    if (lines.full) { sink += lines.bytes().length; lines.reset(); }
  }
  sink += lines.bytes().length;
}

function stringPath(events: readonly ResetEvent[]): void {
  let text = '';
  for (const e of events) {
    text += toJsonLine(e) + '\n';
    if (text.length >= 256 << 10) { sink += Buffer.from(text).length; text = ''; }
  }
  sink += Buffer.from(text).length;
}

function measure(name: string, events: readonly ResetEvent[], run: (events: readonly ResetEvent[]) => void): void {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    run(events);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / events.length);
  }
  console.log(`${name.padEnd(40)} ${best.toFixed(3)} us CPU/event (best of ${ROUNDS})`);
}

const storm = stormEvents(N);
const varied = variedEvents(N, 5);
measure('storm:  bytes (JsonLinesBuffer)', storm, bytesPath);
measure('storm:  string (toJsonLine) -> bytes', storm, stringPath);
measure('varied: bytes (JsonLinesBuffer)', varied, bytesPath);
measure('varied: string (toJsonLine) -> bytes', varied, stringPath);
console.log(`(${sink} bytes)`);
