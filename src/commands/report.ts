/** `rstrace report FILE...`: commander wiring (the work is in src/report/). */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RstraceError } from '../errors.js';
import { ProgressBar } from '../progress.js';
import { renderHtml } from '../report/html/page.js';
import { renderReport } from '../report/render.js';
import { reportFiles } from '../report/run.js';
import { listedPaths } from '../tracefile/inputs.js';
import { filterFrom, positiveInt, addFilterOptions, outputFile, type FilterOptions } from './options.js';

interface ReportOpts extends FilterOptions {
  json?: boolean;
  html?: boolean;
  output?: string;
  top: number;
}

export function registerReportCommand(program: Command): void {
  const cmd = program
    .command('report')
    .description('summarize trace files: resets by kind, code, process, container, unit, peer, service port, suspicious resets, and over time')
    .argument('<file...>', 'trace files written by `rstrace trace -o FILE`, or directories of them (a rotated series); several are summed')
    .option('--json', 'print the report as one JSON object instead of tables')
    .option('--html', 'write the report as one self-contained HTML page (charts and tables, no network); with -o')
    .option('-o, --output <file>', 'write to this file (created mode 0600) instead of standard output', outputFile)
    .option('--top <n>', 'rows in each top list', positiveInt('--top'), 10);
  addFilterOptions(cmd, { time: true })
    .addHelpText('after', `
Every reset code is listed, zeros included, so that "none of those" is an
answer too. Resets no process owns (the kernel answered with no socket) are
counted as "kernel (no socket)", apart from processes. The service port is
the listening side's port (a refused SYN's or a server socket's lport, a
client's rport), which an operator asks about where local ports are mostly
clients' ephemeral ones. Lost counts come from each file's trailer; a file
without one (the trace was killed) is still read, and the report says its
counters are missing. A file cut off mid-record is read up to the cut, with a
warning on stderr. Over 100 MB of input, a progress bar is drawn on stderr
when it is a terminal.

--html writes the same numbers as --json as a page: resets over time stacked
by code on a UTC time axis, codes with their meaning, top owners, containers,
units, peers and ports, ignored and suspicious resets, lost and filtered. It
opens offline in any browser (its script and styles are inside it).

Examples:
  rstrace report resets.rstrace
  rstrace report day1.rstrace day2.rstrace --top 20
  rstrace report /var/lib/rstrace            every file of a rotated series
  rstrace report resets.rstrace --code closed-with-data --comm nginx
  rstrace report resets.rstrace --html -o resets.html
  rstrace report resets.rstrace --since 10m --json | jq '.byCode[] | select(.count > 0)'`)
    .action((files: string[], opts: ReportOpts) => {
      if (opts.json && opts.html) throw new RstraceError('--json and --html cannot be combined', 'give one of them (or neither, for the text report)', 2);
      if (opts.html && opts.output === undefined && process.stdout.isTTY) {
        throw new RstraceError('--html writes a page for a browser, not for this terminal', 'give -o FILE.html, or redirect standard output', 2);
      }
      const { report, warnings } = reportFiles(files, filterFrom(opts), opts.top, ProgressBar.forFiles('report', listedPaths(files)));
      for (const w of warnings) process.stderr.write(w + '\n');
      const text = opts.html ? renderHtml(report) : opts.json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report);
      if (opts.output === undefined) process.stdout.write(text);
      else writeOutput(opts.output, text);
    });
}

function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text, { mode: 0o600 });
  } catch (err) {
    throw new RstraceError(`cannot write ${path}: ${(err as Error).message}`, 'give -o a path in a directory you can write to', 1);
  }
}
