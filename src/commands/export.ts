/** `rstrace export FILE...`: commander wiring (the work is in src/export.ts and src/export/parquet.ts). */
import type { Command } from 'commander';
import { exportTrace, fileOutput, stdoutOutput, type ExportFormat } from '../export.js';
import { RstraceError } from '../errors.js';
import { listedPaths } from '../tracefile/inputs.js';
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
    .description('write trace files out as JSON lines (exactly what `trace --json` printed), CSV or Parquet')
    .argument('<file...>', 'trace files written by `rstrace trace -o FILE`, or directories of them (a rotated series), read in time order')
    .option('-f, --format <format>', 'jsonl (one JSON event per line), csv (RFC 4180, header row, empty for null) or parquet (typed columns; needs -o)',
      exportFormat, 'jsonl' as ExportFormat)
    .option('-o, --output <file>', 'write to this file (created mode 0600) instead of standard output', outputFile);
  addFilterOptions(cmd, { time: true })
    .addHelpText('after', `
Fields, in this order: the keys of each JSON line (the JSON event contract,
explained in the README), the CSV columns and the Parquet columns; null (an
empty CSV cell) where a fact is unknown:
${schemaHelp()}
In Parquet, time is a TIMESTAMP_NS (UTC), integers are BIGINT, signals a list
of strings. Parquet is staged as JSON lines in TMPDIR (about 480 bytes per
event, removed as it goes; TMPDIR=/var/tmp where /tmp is small).

Several files, or a directory of rotated files, are read in the order of their
start times and written as one. A file cut off mid-record is exported up to the
cut, with a warning on stderr; the other files are still read.
Over 100 MB of input, a progress bar is drawn on stderr when it is a terminal
(jsonl and csv).

Examples:
  rstrace export resets.rstrace | jq -c 'select(.code == 16)'
  rstrace export resets.rstrace --format csv -o resets.csv
  rstrace export /var/lib/rstrace --format parquet -o resets.parquet
  duckdb -c "select comm, count(*) from 'resets.parquet' group by 1 order by 2 desc"`)
    .action(async (files: string[], opts: ExportOpts) => {
      const output = opts.output;
      const filter = filterFrom(opts);
      let result;
      if (opts.format === 'parquet') {
        if (output === undefined) throw new RstraceError('--format parquet needs -o FILE', 'Parquet is written to a file: add -o resets.parquet', 2);
        // DuckDB is a large native module: loaded only for Parquet, so jsonl/csv start fast
        const { exportParquet } = await import('../export/parquet.js');
        result = await exportParquet(files, output, filter);
      } else {
        const out = output !== undefined ? () => fileOutput(output) : stdoutOutput;
        result = await exportTrace(files, opts.format, out, filter, ProgressBar.forFiles('export', listedPaths(files)));
      }
      for (const w of result.warnings) process.stderr.write(w + '\n');
    });
}
