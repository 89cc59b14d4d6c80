/**
 * `top` on a terminal: the alternate screen, redrawn in place once a
 * second (cursor home, each line cleared to its end, the rest of the screen
 * cleared), keys read in raw mode (q or Ctrl-C quits), and the terminal given
 * back as it was on every way out, the process's own exit included. Not on a
 * terminal (piped), each refresh prints the screen as plain text instead.
 */
import type { TraceCounters } from '../event.js';
import type { EventView } from '../trace.js';
import { ESC, screenColumns, screenRows } from '../sinks/ansi.js';
import { TopTally } from './tally.js';
import { renderTop, summaryLine } from './render.js';

export const REFRESH_MS = 1000;

interface Terminal {
  out: NodeJS.WriteStream;
  in: NodeJS.ReadStream;
}

export class TopView implements EventView {
  readonly tally = new TopTally();
  readonly visit = this.tally.visit;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private lastTick = 0;
  private counters: () => TraceCounters = () => ({ lost: 0, filtered: 0, delivered: 0 });
  private onScreen = false;
  private readingKeys = false;
  private closed = false;

  constructor(private readonly color: boolean, private readonly term: Terminal = { out: process.stdout, in: process.stdin }) {}

  start(control: { counters(): TraceCounters; stop(): void }): void {
    this.counters = control.counters;
    this.startedAt = this.lastTick = performance.now();
    const { out, in: input } = this.term;
    if (out.isTTY) {
      out.write(ESC.altScreenOn + ESC.cursorHide);
      this.onScreen = true;
      process.once('exit', this.restore);
      out.on('resize', this.draw);
    }
    if (input.isTTY) {
      input.setRawMode(true);
      input.setEncoding('utf8');
      input.on('data', (key: string) => {
        if (/[qQ\x03\x04]/.test(key)) control.stop();
      });
      input.resume();
      this.readingKeys = true;
    }
    this.draw();
    this.timer = setInterval(this.refresh, REFRESH_MS);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.refresh(); // the last counts, for the piped output
    this.restore();
    this.term.out.write(summaryLine(this.tally, this.elapsed(), this.term.out.isTTY ? screenColumns(this.term.out) : Infinity) + '\n');
  }

  private elapsed(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  private readonly refresh = (): void => {
    const now = performance.now();
    this.tally.tick((now - this.lastTick) / 1000);
    this.lastTick = now;
    this.draw();
  };

  private readonly draw = (): void => {
    const { out } = this.term;
    const c = this.counters();
    const lines = renderTop(this.tally, {
      columns: screenColumns(out), rows: screenRows(out), elapsedSec: this.elapsed(), lost: c.lost, filtered: c.filtered,
      color: this.color, keys: this.readingKeys,
    });
    if (this.onScreen) out.write(ESC.home + lines.map((l) => l + ESC.clearLine).join('\n') + ESC.clearBelow);
    else out.write(lines.join('\n').replace(/\n+$/, '') + '\n\n');
  };

  /** The terminal as it was: main screen, cursor shown, keys cooked. */
  private readonly restore = (): void => {
    const { out, in: input } = this.term;
    if (this.readingKeys) {
      this.readingKeys = false;
      input.setRawMode(false);
      input.pause();
    }
    if (this.onScreen) {
      this.onScreen = false;
      out.off('resize', this.draw);
      out.write(ESC.cursorShow + ESC.altScreenOff);
      process.off('exit', this.restore);
    }
  };
}
