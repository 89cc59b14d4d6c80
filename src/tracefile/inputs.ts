/**
 * The trace files of `report` and `export`: files and directories (a rotated
 * series, see rotate.ts) expanded into files read in time order, by the
 * start time in each header rather than by name. A damaged file among them
 * gives its complete events and a warning; the others are still read.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ResetEvent } from '../event.js';
import type { EventVisitor } from '../pipeline.js';
import { RstraceError } from '../errors.js';
import { sumChecks } from '../completeness/summary.js';
import { describeDamage, type TraceDamage, type TraceTrailer } from './format.js';
import { TraceReader } from './reader.js';

export interface TraceInput {
  path: string;
  /** found in a directory: trouble opening it is a warning, not an error */
  listed: boolean;
}

export interface TraceInputs {
  /** in time order */
  files: TraceInput[];
  /** one line each, for stderr: files of a directory that are not traces */
  warnings: string[];
}

function skipped(path: string, err: unknown): string {
  const why = err instanceof RstraceError ? err.message.replace(`${path}: `, '').replace(path, 'it') : String(err);
  return `rstrace: ${path}: skipped (${why})`;
}

/** The files `args` name, directories listed (for sizes: a progress bar's total); no file is opened. */
export function listedPaths(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    let names: string[] | null = null;
    try { if (statSync(arg).isDirectory()) names = readdirSync(arg).filter((n) => !n.startsWith('.')); } catch { /* a file, or missing */ }
    if (names) out.push(...names.map((n) => join(arg, n)));
    else out.push(arg);
  }
  return out;
}

/**
 * Expands `args` and orders the files by their headers' start times (ties:
 * the order given). A named file that is not a trace is an error, as for one
 * file; a directory's file that is not one is skipped with a warning.
 */
export function traceInputs(args: readonly string[]): TraceInputs {
  const warnings: string[] = [];
  const found: { input: TraceInput; start: number; order: number }[] = [];
  for (const arg of args) {
    let dir = false;
    try { dir = statSync(arg).isDirectory(); } catch { /* TraceReader.open says what is wrong with it */ }
    const candidates: TraceInput[] = dir
      ? readdirSync(arg).filter((n) => !n.startsWith('.')).sort().map((n) => ({ path: join(arg, n), listed: true }))
        .filter((c) => { try { return statSync(c.path).isFile(); } catch { return false; } })
      : [{ path: arg, listed: false }];
    if (dir && candidates.length === 0) throw new RstraceError(`${arg}: no trace files in this directory`, 'give the directory that `trace -o` writes to, or trace files', 2);
    for (const input of candidates) {
      let start: number;
      try {
        const reader = TraceReader.open(input.path);
        start = Date.parse(reader.header.startTime);
        reader.close();
      } catch (err) {
        if (!input.listed) throw err;
        warnings.push(skipped(input.path, err));
        continue;
      }
      found.push({ input, start: Number.isNaN(start) ? 0 : start, order: found.length });
    }
  }
  if (found.length === 0) throw new RstraceError(`${args.join(', ')}: no readable trace file`, 'give files written by `rstrace trace -o FILE`', 2);
  found.sort((a, b) => a.start - b.start || a.order - b.order);
  return { files: found.map((f) => f.input), warnings };
}

/**
 * Several trace files read as one, in order, through the reader's own walks
 * (each file with its own header: clock, names, filter, limit). What export
 * needs of a TraceReader, over a series.
 */
export class TraceSeries {
  /** warnings so far: skipped files, damaged ones (describeDamage) */
  readonly warnings: string[];
  /** the first damage met, for callers of one file */
  damage: TraceDamage | null = null;
  private trailers: (TraceTrailer | null)[] = [];
  /** bytes read from the files done with */
  private bytesBefore = 0;
  private next = 0;
  private current: TraceReader | null = null;
  private closed = false;

  private constructor(private readonly inputs: TraceInputs) {
    this.warnings = [...inputs.warnings];
  }

  static open(args: string | readonly string[]): TraceSeries {
    const series = new TraceSeries(traceInputs(typeof args === 'string' ? [args] : args));
    series.advance(); // the first file opens now, so that a bad one fails before any output is made
    return series;
  }

  /** Bytes read so far, of all the files (for a progress bar). */
  get bytesRead(): number {
    return this.bytesBefore + (this.current?.bytesRead ?? 0);
  }

  get files(): readonly string[] {
    return this.inputs.files.map((f) => f.path);
  }

  /** The trailers added up; null when a file had none (its trace did not end normally). */
  get trailer(): TraceTrailer | null {
    if (this.trailers.length === 0 || this.trailers.some((t) => t === null)) return null;
    const ts = this.trailers as TraceTrailer[];
    if (ts.length === 1) return ts[0];
    const checks = ts.flatMap((t) => (t.kernel ? [t.kernel] : []));
    return {
      kernel: checks.length ? sumChecks(checks) : null,
      delivered: ts.reduce((n, t) => n + t.delivered, 0), lost: ts.reduce((n, t) => n + t.lost, 0),
      filtered: ts.reduce((n, t) => n + t.filtered, 0), endTime: ts[ts.length - 1].endTime,
    };
  }

  nextBatch(): ResetEvent[] | null {
    while (this.current) {
      const batch = this.current.nextBatch();
      if (batch) return batch;
      this.advance();
    }
    return null;
  }

  /** Every event, file after file; the event object is reused, as TraceReader.forEachEvent's. */
  forEachEvent(visit: EventVisitor): void {
    while (this.current) {
      this.current.forEachEvent(visit);
      this.advance();
    }
  }

  /** Ends the walk (a reader of stdout went away); idempotent. */
  close(): void {
    this.closed = true;
    this.current?.close();
    this.current = null;
  }

  /** Done with the current file (if any): note its end; open the next one. */
  private advance(): void {
    const done = this.current;
    if (done) {
      done.close();
      this.bytesBefore += done.bytesRead;
      const path = this.inputs.files[this.next - 1].path;
      this.trailers.push(done.trailer);
      if (done.damage) {
        this.damage ??= done.damage;
        this.warnings.push(describeDamage(path, done.damage));
      }
      this.current = null;
    }
    while (!this.closed && this.current === null && this.next < this.inputs.files.length) {
      const input = this.inputs.files[this.next++];
      try {
        this.current = TraceReader.open(input.path);
      } catch (err) {
        // a series being rotated may lose its oldest file between the listing and here
        if (!input.listed) throw err;
        this.warnings.push(skipped(input.path, err));
      }
    }
  }
}
