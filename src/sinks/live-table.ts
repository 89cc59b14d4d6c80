/**
 * The table as `trace` shows it: fitted to the terminal when stdout is one
 * (full columns when piped), with the status line on stderr when stderr is a
 * terminal, following resizes. trace.ts asks for it and starts and stops it.
 */
import type { ResetEvent } from '../event.js';
import { screenColumns, screenRows, useColor, type ColorWhen } from './ansi.js';
import { StatusLine, type StatusCounters } from './status-line.js';
import { TerminalSink } from './terminal.js';

export interface LiveTable {
  sink: TerminalSink;
  /** starts the status line (if any), reading the tracer's counters */
  start(counters: () => StatusCounters): void;
  /** erases the status line for good */
  stop(): void;
  /** before a line of its own goes to stderr: the status line is erased and comes back with the next rows */
  beforeLog(): void;
}

export function liveTable(out: (text: string) => void, color: ColorWhen): LiveTable {
  const stdout = process.stdout;
  const stderr = process.stderr;
  const tty = stdout.isTTY === true;
  const status = stderr.isTTY ? new StatusLine((t) => stderr.write(t), () => screenColumns(stderr)) : null;
  const sink = new TerminalSink(out, {
    columns: tty ? screenColumns(stdout) : undefined,
    rows: tty ? screenRows(stdout) : undefined,
    color: useColor(color, stdout),
    around: status?.around,
    onEvent: status ? (e: ResetEvent) => status.count(e) : undefined,
  });
  const onResize = (): void => sink.resize(screenColumns(stdout), screenRows(stdout));
  if (tty) stdout.on('resize', onResize);
  return {
    sink,
    start: (counters) => status?.start(counters),
    stop: () => {
      status?.stop();
      if (tty) stdout.off('resize', onResize);
    },
    beforeLog: () => status?.interrupt(),
  };
}
