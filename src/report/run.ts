/**
 * `rstrace report` over files: stream each trace through the filter into one
 * ReportBuilder. File handling lives here so that summarize.ts stays pure.
 */
import { matchesFilter, isEmptyFilter, type EventFilter } from '../filter.js';
import { PROGRESS_EVERY_EVENTS, type ProgressBar } from '../progress.js';
import { describeDamage } from '../tracefile/format.js';
import { TraceReader } from '../tracefile/reader.js';
import { traceInputs } from '../tracefile/inputs.js';
import { ReportBuilder, type Report } from './summarize.js';
import { sumChecks } from '../completeness/summary.js';
import type { NetnsCheck } from '../completeness/check.js';

export interface ReportRun {
  report: Report;
  /** one-line warnings for stderr (a file cut or damaged) */
  warnings: string[];
}

export function reportFiles(args: readonly string[], filter: EventFilter = {}, top = 10, progress: ProgressBar | null = null): ReportRun {
  const builder = new ReportBuilder();
  const filtering = !isEmptyFilter(filter);
  // files and directories (rotated series), in time order
  const inputs = traceInputs(args);
  const warnings: string[] = [...inputs.warnings];
  const files: string[] = [];
  let lost = 0, filtered = 0, excluded = 0;
  let truncated = false, countersIncomplete = false;
  const kernel: NetnsCheck[][] = [];
  let bytesBefore = 0;
  try {
    for (const { path, listed } of inputs.files) {
      let reader: TraceReader;
      try {
        reader = TraceReader.open(path);
      } catch (err) {
        if (!listed) throw err;
        warnings.push(`rstrace: ${path}: skipped (${(err as Error).message})`); // removed by rotation since it was listed
        continue;
      }
      files.push(path);
      let sinceTick = 0;
      try {
        // ReportBuilder keeps no event, so the reader's reused event object is fine here
        reader.forEachEvent((e, ms, subNs) => {
          if (filtering && !matchesFilter(e, filter)) excluded++;
          else if (Number.isNaN(ms)) builder.add(e);
          else builder.addAt(e, ms, subNs);
          if (progress && ++sinceTick === PROGRESS_EVERY_EVENTS) { sinceTick = 0; progress.update(bytesBefore + reader.bytesRead); }
        });
      } finally {
        reader.close();
      }
      bytesBefore += reader.bytesRead;
      const { trailer, damage } = reader;
      if (trailer) { lost += trailer.lost; filtered += trailer.filtered; } else countersIncomplete = true;
      if (trailer?.kernel) kernel.push(trailer.kernel);
      if (damage) { truncated = true; warnings.push(describeDamage(path, damage)); }
    }
  } finally {
    progress?.end(); // before the warnings and the report are printed
  }
  const report = builder.finish({ lost, filtered, excluded, truncated, countersIncomplete, files: [...files], top, kernel: kernel.length ? sumChecks(kernel) : null });
  return { report, warnings };
}
