/** `rstrace export FILE`: commander wiring (the work is in src/export.ts). */
import type { Command } from 'commander';
import { exportTrace, fileOutput, stdoutOutput, type ExportFormat } from '../export.js';
import { describeDamage } from '../tracefile/format.js';
import { addFilterOptions, exportFormat, filterFrom, outputFile, type FilterOptions } from './options.js';
import { schemaHelp } from '../event.js';
import { ProgressBar } from '../progress.js';

interface ExportOpts extends FilterOptions {
  format: ExportFormat;
  output?: string;
}

export function registerExportCommand(program: Command): void {
  const cmd = program
    .command('export')
    .description('write a trace file out as JSON lines (exactly what `trace --json` printed) or CSV')
    .argument('<file>', 'a trace file written by `rstrace trace -o FILE`')
    .option('-f, --format <format>', 'jsonl (one JSON event per line) or csv (RFC 4180, header row, empty for null)', exportFormat, 'jsonl' as ExportFormat)
    .option('-o, --output <file>', 'write to this file (created mode 0600) instead of standard output', outputFile);
  addFilterOptions(cmd, { time: true })
    .addHelpText('after', `
Fields, in this order: the keys of each JSON line (the JSON event contract,
explained in the README) and the CSV columns; null (an empty CSV cell) where a
fact is unknown:
${schemaHelp()}

A file cut off mid-record is exported up to the cut, with a warning on stderr.
Over 100 MB of input, a progress bar is drawn on stderr when it is a terminal.

Examples:
  rstrace export resets.rstrace | jq -c 'select(.code == 16)'
  rstrace export resets.rstrace --format csv -o resets.csv
  duckdb -c "select comm, count(*) from read_json_auto('/dev/stdin') group by 1" < <(rstrace export resets.rstrace)`)
    .action(async (file: string, opts: ExportOpts) => {
      const output = opts.output;
      const out = output !== undefined ? () => fileOutput(output) : stdoutOutput;
      const result = await exportTrace(file, opts.format, out, filterFrom(opts), ProgressBar.forFiles('export', [file]));
      if (result.damage) process.stderr.write(describeDamage(file, result.damage) + '\n');
    });
}
