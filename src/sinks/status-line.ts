/**
 * The live table's status line: one line at the bottom of the terminal, on
 * stderr, with the events so far, the rate over the last second, what the
 * kernel lost and the counts by reset code, refreshed in place (carriage
 * return, clear to end of line) at most REFRESH_MS apart. Rows written to
 * stdout go through around(), which erases the line first and draws it again
 * after them, so that the line stays below the table. Only for a terminal:
 * a log file gets no carriage returns.
 */
import { codeInfo } from '../codes.js';
import type { ResetEvent } from '../event.js';
import { ESC, fitText } from './ansi.js';

export const REFRESH_MS = 250;
/** the rate is the growth over about this window */
const RATE_WINDOW_MS = 1000;

export interface StatusCounters {
  lost: number;
}

export class StatusLine {
  private total = 0;
  private readonly byCode: number[] = [];
  private readonly samples: { at: number; total: number }[] = [];
  private lost = 0;
  private shown = '';
  private drawn = false;
  private timer: NodeJS.Timeout | null = null;
  private counters: (() => StatusCounters) | null = null;

  constructor(
    private readonly write: (text: string) => void,
    private readonly columns: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts refreshing; `counters` gives the tracer's totals (lost). */
  start(counters: () => StatusCounters): void {
    this.counters = counters;
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  count(e: ResetEvent): void {
    this.total++;
    this.byCode[e.code] = (this.byCode[e.code] ?? 0) + 1;
  }

  /** Runs `write` (rows to stdout) with the line erased before and drawn after. */
  readonly around = (write: () => void): void => {
    this.erase();
    write();
    this.draw();
  };

  /** Erases the line until the next rows or refresh (a log line of its own follows). */
  interrupt(): void {
    this.erase();
  }

  /** Erases the line for good (the summary follows). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.erase();
  }

  /** The line as it reads now, cut to the terminal's width. */
  text(): string {
    const rate = this.rate();
    const codes = this.byCode
      .map((n, code) => ({ n, code }))
      .filter((c) => c.n > 0)
      .sort((a, b) => b.n - a.n || a.code - b.code)
      .map((c) => `${c.code} ${codeInfo(c.code)?.key ?? 'unknown'} ${c.n}`);
    const head = `rstrace: ${this.total} events, ${Math.round(rate)}/s, ${this.lost} lost`;
    return fitText(codes.length ? `${head} | ${codes.join(', ')}` : head, Math.max(1, this.columns() - 1));
  }

  private refresh(): void {
    if (this.counters) this.lost = this.counters().lost;
    const at = this.now();
    this.samples.push({ at, total: this.total });
    while (this.samples.length > 2 && at - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift();
    const line = this.text();
    if (line !== this.shown || !this.drawn) {
      this.erase();
      this.draw();
    }
  }

  private rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at <= 0) return 0;
    return ((last.total - first.total) * 1000) / (last.at - first.at);
  }

  private draw(): void {
    this.shown = this.text();
    this.write(this.shown);
    this.drawn = true;
  }

  private erase(): void {
    if (!this.drawn) return;
    this.write('\r' + ESC.clearLine);
    this.drawn = false;
  }
}
