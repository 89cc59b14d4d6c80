/** `rstrace codes`: the reset code table with its Linux mapping. */
import type { Command } from 'commander';
import { RESET_CODES } from '../codes.js';

export function registerCodesCommand(program: Command): void {
  program
    .command('codes')
    .description('print the reset diagnostic codes and the Linux situations that produce each')
    .option('--json', 'print the table as JSON')
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        process.stdout.write(JSON.stringify(RESET_CODES, null, 2) + '\n');
        return;
      }
      const lines = RESET_CODES.map((c) => {
        const kinds = c.kinds.length ? c.kinds.join('/') : 'never emitted on Linux';
        const linux = c.linux || 'no Linux analogue; listed so that reports show it at zero';
        return `${String(c.code).padStart(2)}  ${c.key.padEnd(25)} ${c.name}\n    ${kinds}: ${linux}`;
      });
      process.stdout.write(lines.join('\n') + '\n');
    });
}
