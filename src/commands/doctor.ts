/** `rstrace doctor`: commander wiring (the work is in src/doctor/). */
import type { Command } from 'commander';
import { renderDoctor, runDoctor } from '../doctor/run.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check what this host offers rstrace (kernel, BTF, privileges, each hook) and what to do about each gap')
    .option('--json', 'print { ok, checks: [{ name, status, detail, remedy }] } instead of lines')
    .addHelpText('after', `
Each line is one check: ok, warn (rstrace works, with less) or FAIL (trace
cannot run), then what was found and, after '->', what to do about it.
Exit status: 0 when 'rstrace trace' can run here, 1 when it cannot.`)
    .action((opts: { json?: boolean }) => {
      const report = runDoctor();
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderDoctor(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
