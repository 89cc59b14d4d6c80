/** `rstrace report FILE...`: commander wiring (the work is in src/report/). */
import type { Command } from 'commander';
import { renderReport } from '../report/render.js';
import { reportFiles } from '../report/run.js';
import { filterFrom, positiveInt, addFilterOptions, type FilterOptions } from './options.js';

interface ReportOpts extends FilterOptions {
  json?: boolean;
  top: number;
}

export function registerReportCommand(program: Command): void {
  const cmd = program
    .command('report')
    .description('summarize trace files: resets by kind, by code, by process, by peer, by local port, and over time')
    .argument('<file...>', 'trace files written by `rstrace trace -o FILE` (several are summed)')
    .option('--json', 'print the report as one JSON object instead of tables')
    .option('--top <n>', 'rows in each top list', positiveInt('--top'), 10);
  addFilterOptions(cmd, { time: true })
    .addHelpText('after', `
Every reset code is listed, zeros included, so that "none of those" is an
answer too. Lost counts come from each file's trailer; a file without one (the
trace was killed) is still read, and the report says its counters are missing.
A file cut off mid-record is read up to the cut, with a warning on stderr.

Examples:
  rstrace report resets.rstrace
  rstrace report day1.rstrace day2.rstrace --top 20
  rstrace report resets.rstrace --code closed-with-data --comm nginx
  rstrace report resets.rstrace --since 10m --json | jq '.byCode[] | select(.count > 0)'`)
    .action((files: string[], opts: ReportOpts) => {
      const { report, warnings } = reportFiles(files, filterFrom(opts), opts.top);
      for (const w of warnings) process.stderr.write(w + '\n');
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report));
    });
}
