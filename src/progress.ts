/**
 * A progress bar on stderr for `report` and `export` over large trace files:
 * bytes read of the total, rate and time left, redrawn in place at most ten
 * times a second. Only on a terminal (a pipe or a log file gets nothing) and
 * only for inputs of PROGRESS_MIN_BYTES or more, where a read takes seconds.
 */
import { statSync } from 'node:fs';

/** Below this the read takes about a second or less: no bar. */
export const PROGRESS_MIN_BYTES = 100e6;
const REDRAW_MS = 100;

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  minBytes?: number;
  /** milliseconds, monotonic */
  now?: () => number;
}

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  elapsedMs: number;
}

/**
 * One line, at most `width` columns: `label  42% [=====>    ] 120 MB / 286 MB  85 MB/s  ETA 0:02`.
 * The bar takes the columns the figures leave.
 */
export function renderProgress(p: ProgressState, width: number): string {
  const frac = p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : 1;
  const rate = p.elapsedMs > 0 ? p.done / (p.elapsedMs / 1000) : 0;
  const eta = rate > 0 ? clock((p.total - p.done) / rate) : '--:--';
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  const figures = `${megabytes(p.done)} / ${megabytes(p.total)}  ${megabytes(rate)}/s  ETA ${eta}`;
  const fixed = `${p.label} ${pct}  ${figures}`;
  const room = width - 1 - (fixed.length + 2); // one column spare so the terminal never wraps; the brackets
  if (room < 10) return fixed.slice(0, Math.max(0, width - 1));
  const filled = Math.floor(frac * room);
  const bar = filled >= room ? '='.repeat(room) : '='.repeat(filled) + '>' + ' '.repeat(room - filled - 1);
  return `${p.label} ${pct} [${bar}] ${figures}`;
}

function megabytes(bytes: number): string {
  const mb = bytes / 1e6;
  return mb >= 100 ? `${Math.round(mb)} MB` : `${mb.toFixed(1)} MB`;
}

/** m:ss, or h:mm:ss past an hour. */
function clock(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mmss = `${String(m).padStart(h ? 2 : 1, '0')}:${String(sec).padStart(2, '0')}`;
  return h ? `${h}:${mmss}` : mmss;
}

export class ProgressBar {
  private lastDraw = -Infinity;
  private drawn = false;
  private readonly start: number;

  private constructor(private readonly label: string, private readonly total: number,
    private readonly stream: ProgressStream, private readonly now: () => number) {
    this.start = now();
  }

  /** A bar for reading `total` bytes, or null when none is to be shown (not a terminal, or small input). */
  static create(label: string, total: number, opts: ProgressOptions = {}): ProgressBar | null {
    const stream = opts.stream ?? process.stderr;
    if (stream.isTTY !== true || total < (opts.minBytes ?? PROGRESS_MIN_BYTES)) return null;
    return new ProgressBar(label, total, stream, opts.now ?? (() => performance.now()));
  }

  /** For reading these files one after the other; sizes are read now (a file that cannot be read counts 0). */
  static forFiles(label: string, paths: readonly string[], opts: ProgressOptions = {}): ProgressBar | null {
    let total = 0;
    for (const p of paths) {
      try { total += statSync(p).size; } catch { /* the reader reports it */ }
    }
    return ProgressBar.create(label, total, opts);
  }

  /** `done` bytes read so far, of all the files. */
  update(done: number): void {
    const t = this.now();
    if (t - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = t;
    this.drawn = true;
    const line = renderProgress({ label: this.label, done, total: this.total, elapsedMs: t - this.start }, this.stream.columns ?? 80);
    this.stream.write(`\r${line}\x1b[K`);
  }

  /** Clear the line, so that what follows (the report, a warning) starts clean. */
  end(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** How often, in events, a reader's walk looks at the clock: cheap enough per event. */
export const PROGRESS_EVERY_EVENTS = 4096;
