/** rstrace's command line: commander wiring only; each command lives in src/commands/. */
import { Command, CommanderError } from 'commander';
import { RstraceError } from './errors.js';
import { registerTraceCommand } from './commands/trace.js';
import { registerCodesCommand } from './commands/codes.js';
import { registerReportCommand } from './commands/report.js';
import { registerExportCommand } from './commands/export.js';
import { registerMetricsCommand } from './commands/metrics.js';
import { registerDoctorCommand } from './commands/doctor.js';

const program = new Command();
program
  .name('rstrace')
  .description('Trace TCP resets on this Linux host: who (process, container, peer), why (the kernel decision, as a reset code) and how often.')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

registerTraceCommand(program);
registerCodesCommand(program);
registerReportCommand(program);
registerExportCommand(program);
registerMetricsCommand(program);
registerDoctorCommand(program);

function fail(err: unknown): never {
  if (err instanceof CommanderError) {
    // help and version are not failures; every usage error exits 2
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof RstraceError) {
    process.stderr.write(err.oneLine() + '\n');
    process.exit(err.exitCode);
  }
  const e = err as Error;
  process.stderr.write(`rstrace: ${e?.message ?? String(err)}: this is a bug in rstrace; please report it\n`);
  if (process.env.RSTRACE_DEBUG) process.stderr.write(`${e?.stack}\n`);
  process.exit(1);
}

// `trace` is the default command: without this, a mistyped command would start a trace.
const first = process.argv[2];
if (first !== undefined && first !== 'help' && !first.startsWith('-') && !program.commands.some((c) => c.name() === first || c.aliases().includes(first))) {
  process.stderr.write(`rstrace: unknown command '${first}': see 'rstrace --help' for the commands\n`);
  process.exit(2);
}

program.parseAsync(process.argv).catch(fail);
