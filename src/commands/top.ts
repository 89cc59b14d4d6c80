/** `rstrace top`: commander wiring for the live view of a storm (the work is in src/top/ and src/trace.ts). */
import type { Command } from 'commander';
import { runTrace } from '../trace.js';
import { PRIVILEGES_HELP } from '../kernel/privileges.js';
import { useColor, type ColorWhen } from '../sinks/ansi.js';
import { TopView } from '../top/view.js';
import { addFirewallOption } from './agent-options.js';
import { addFilterOptions, colorWhen, filtersFrom, positiveSeconds, type FilterOptions } from './options.js';

interface Opts extends FilterOptions {
  duration?: number;
  firewall?: boolean;
  color: ColorWhen;
}

export function registerTopCommand(program: Command): void {
  const cmd = program
    .command('top')
    .description('a live view of TCP resets for storms: resets per second and totals by code, owner, peer and service port')
    .option('-d, --duration <seconds>', 'stop after this many seconds', positiveSeconds('--duration'))
    .option('--color <when>', 'bold headers: auto (a terminal without NO_COLOR), always, never', colorWhen, 'auto');
  addFirewallOption(cmd);
  addFilterOptions(cmd)
    .addHelpText('after', `
The screen is redrawn once a second; q or Ctrl-C quits and prints the totals.
Tables, busiest first (resets per second, then total):
  CODE          reset code and key ('rstrace codes')
  OWNER         the container when the owner is in one, else the process name;
                "kernel (no socket)" for resets that matched no socket
  REMOTE PEER   the peer's address
  SERVICE PORT  the listening side's port (the port that refused a connect,
                the server's port of a reset connection)
It counts every event without printing it, so it keeps up with storms that a
table could not show; the title line says if the kernel lost events.

Examples:
  rstrace top                         every reset on the host
  rstrace top --port 443 -d 60        port 443 for a minute
  rstrace top --code syn-unknown-port connects refused for want of a listener
${PRIVILEGES_HELP}`)
    .action(async (opts: Opts) => {
      const filters = filtersFrom(opts);
      const view = new TopView(useColor(opts.color, process.stdout));
      process.exitCode = await runTrace({
        json: false, table: false, quiet: true, view, durationSec: opts.duration, firewall: opts.firewall ?? false, ...filters,
        assumeNoReason: false, recorded: {},
      });
    });
}
