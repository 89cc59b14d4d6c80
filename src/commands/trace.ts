/** `rstrace trace`: commander wiring for a live trace (the work is in src/trace.ts). */
import { Command, Option } from 'commander';
import { runTrace, type TraceOptions } from '../trace.js';
import { PRIVILEGES_HELP } from '../kernel/privileges.js';
import type { ColorWhen } from '../sinks/ansi.js';
import { DEFAULT_MAX_COMMS } from '../sinks/metrics.js';
import { colorWhen, filtersFrom, positiveInt, positiveSeconds, addFilterOptions, type FilterOptions } from './options.js';
import { addFirewallOption, addOutputOptions, metricsAddress, recordable, rotationFrom, ROTATION_HELP, serveMetrics, type OutputOpts } from './agent-options.js';

interface Opts extends FilterOptions, OutputOpts {
  json?: boolean;
  metrics?: string;
  table?: boolean;
  duration?: number;
  count?: number;
  assumeNoReason?: boolean;
  color: ColorWhen;
  firewall?: boolean;
}

export function registerTraceCommand(program: Command): void {
  const cmd = program
    .command('trace', { isDefault: true })
    // an unknown command must not start a trace as if it were an argument
    .allowExcessArguments(false)
    .description('trace TCP resets live: who (process, peer), why (reset code, kernel reason), as they happen')
    .option('--json', 'print one JSON object per event (the JSON event contract) instead of the table')
    .option('--table', 'print the live table even when writing -o FILE')
    .option('-d, --duration <seconds>', 'stop after this many seconds', positiveSeconds('--duration'))
    .option('-c, --count <n>', 'stop after this many events', positiveInt('--count'))
    .option('--color <when>', 'colour the table by kind: auto (a terminal without NO_COLOR), always, never', colorWhen, 'auto')
    .option('--metrics <addr>', 'also serve Prometheus metrics on HOST:PORT, as `rstrace metrics --listen` does (same hooks, one process)', metricsAddress);
  addFirewallOption(cmd);
  addOutputOptions(cmd, 'also record a trace file (msgpack) for `report` and `export` later');
  addFilterOptions(cmd)
    .addOption(new Option('--assume-no-reason', 'behave as on a kernel without sk_rst_reason (before 6.10)').hideHelp())
    .addHelpText('after', `
Columns: TIME (UTC), KIND (sent: this host sent the RST; received: a RST arrived;
abort: the connection died with no RST on the wire; ignored: a RST arrived and the
kernel refused it), CODE (see 'rstrace codes'), PID/COMM (the owner of the
connection), LOCAL/REMOTE, STATE (TCP state when the reset was decided), REASON
(the kernel's sk_rst_reason, or for ignored RSTs its drop reason), WHY (a short phrase).
On a terminal the table fits its width (REASON, STATE and PID give way first,
addresses are shortened, WHY takes the rest), the header comes back every
screen, and a status line on stderr counts events, events/s, lost and codes.
Piped, every column is printed in full.

At the end, stderr gets a summary and the kernel check: per network namespace,
the kernel's own TcpOutRsts growth against the tcp_send_reset hook's hits (equal:
nothing missed), with how many reached rstrace and how many were filtered or lost;
a difference is a warning naming the namespace and both numbers.

Examples:
  rstrace trace                              live table until Ctrl-C
  rstrace trace --json --duration 60 | jq .  JSON lines for a minute
  rstrace trace -o resets.rstrace --port 443 record resets on port 443
  rstrace trace --code syn-unknown-port -c 10
  rstrace trace --json --unit nginx          resets of nginx.service (--container ID, --cgroup PATH alike)
  rstrace trace --json -o /var/lib/rstrace/rstrace.trace --rotate-size 64M --rotate-keep 8 --metrics 127.0.0.1:9477
                                             the agent: JSON lines, rotated files, metrics
  rstrace trace --firewall --code firewall-reject   RSTs made by firewall rules
${ROTATION_HELP}
${PRIVILEGES_HELP}`)
    .action(async (opts: Opts) => {
      const filters = filtersFrom(opts);
      const rotation = rotationFrom(opts);
      const metrics = opts.metrics !== undefined ? await serveMetrics(opts.metrics, DEFAULT_MAX_COMMS) : undefined;
      const options: TraceOptions = {
        json: opts.json ?? false,
        output: opts.output,
        rotation,
        metrics,
        table: opts.table ?? false,
        durationSec: opts.duration,
        count: opts.count,
        ...filters,
        assumeNoReason: opts.assumeNoReason ?? false,
        color: opts.color,
        firewall: opts.firewall ?? false,
        recorded: recordable(opts),
      };
      try {
        process.exitCode = await runTrace(options);
      } finally {
        await metrics?.close(); // idempotent: runTrace closes it too
      }
    });
}
