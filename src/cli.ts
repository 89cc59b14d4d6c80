/** rstrace's command line: commander wiring only; each command lives in src/commands/. */
import { Command } from 'commander';
import { describeFailure, usageError } from './errors.js';
import { registerTraceCommand } from './commands/trace.js';
import { registerCodesCommand } from './commands/codes.js';
import { registerReportCommand } from './commands/report.js';
import { registerExportCommand } from './commands/export.js';
import { registerMetricsCommand } from './commands/metrics.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerTopCommand } from './commands/top.js';

/** Every way a command ends early goes through here: one line on stderr, exit 0, 1 or 2. */
function exit(err: unknown, command = ''): never {
  const { line, exitCode } = describeFailure(err, command);
  if (line !== null) process.stderr.write(line + '\n');
  if (process.env.RSTRACE_DEBUG && err instanceof Error && exitCode === 1) process.stderr.write(`${err.stack}\n`);
  process.exit(exitCode);
}

const program = new Command();
program
  .name('rstrace')
  .description('Trace TCP resets on this Linux host: who (process, container, peer), why (the kernel decision, as a reset code) and how often.')
  .version('0.1.0')
  // commander's own error text is replaced by exit()'s one line; help output is unchanged
  .configureOutput({ outputError: () => {} })
  .allowExcessArguments(false);

registerTraceCommand(program);
registerCodesCommand(program);
registerReportCommand(program);
registerExportCommand(program);
registerMetricsCommand(program);
registerTopCommand(program);
registerDoctorCommand(program);

program.exitOverride((err) => exit(err));
for (const cmd of program.commands) cmd.exitOverride((err) => exit(err, cmd.name()));

// `trace` is the default command: without this, a mistyped command would start a trace.
const first = process.argv[2];
if (first !== undefined && first !== 'help' && !first.startsWith('-') && !program.commands.some((c) => c.name() === first || c.aliases().includes(first))) {
  exit(usageError(`unknown command '${first}'`, "see 'rstrace --help' for the commands"));
}

program.parseAsync(process.argv).catch((err: unknown) => exit(err));
