/** `rstrace metrics`: commander wiring for the Prometheus endpoint (the work is in src/sinks/metrics.ts and src/trace.ts). */
import type { Command } from 'commander';
import { runTrace, type TraceOptions } from '../trace.js';
import { PRIVILEGES_HELP } from '../kernel/privileges.js';
import { DEFAULT_LISTEN, DEFAULT_MAX_COMMS, DEFAULT_MAX_CONTAINERS } from '../sinks/metrics.js';
import { filtersFrom, listenAddress, positiveSeconds, wholeNumber, addFilterOptions, type FilterOptions } from './options.js';
import { addFirewallOption, addOutputOptions, recordable, rotationFrom, ROTATION_HELP, serveMetrics, type OutputOpts } from './agent-options.js';

interface Opts extends FilterOptions, OutputOpts {
  listen: string;
  json?: boolean;
  firewall?: boolean;
  maxComms: number;
  maxContainers: number;
  duration?: number;
}

export function registerMetricsCommand(program: Command): void {
  const cmd = program
    .command('metrics')
    .description('serve TCP reset counts to Prometheus: resets by kind, code, process and container or unit, lost events, process metrics')
    .option('-l, --listen <addr>', 'HOST:PORT, [IPV6]:PORT, or :PORT for every address', listenAddress, DEFAULT_LISTEN)
    .option('--max-comms <n>', `process names kept as comm label values; further ones count as comm="other" (0: none)`,
      wholeNumber('--max-comms'), DEFAULT_MAX_COMMS)
    .option('--max-containers <n>', 'containers and systemd units (together) kept as container/unit label values; further ones count as "other" (0: none)',
      wholeNumber('--max-containers'), DEFAULT_MAX_CONTAINERS)
    .option('-d, --duration <seconds>', 'stop after this many seconds', positiveSeconds('--duration'))
    .option('--json', 'also print each event as a JSON line on stdout (for a log shipper), from the same hooks');
  addOutputOptions(cmd, 'also record the events in a trace file for `report` and `export`, from the same hooks');
  addFirewallOption(cmd);
  addFilterOptions(cmd)
    .addHelpText('after', `
Serves http://ADDR/metrics in the Prometheus text format until Ctrl-C (or --duration):
  rstrace_resets_total{kind,code,code_key,comm,container,unit}  resets by kind (sent,
      received, abort), reset code and key ('rstrace codes'), and owning process name;
      comm="kernel" when no process owns the socket, comm="other" past the first --max-comms
      names; container = the owner's container id (docker, containerd/CRI, CRI-O, podman),
      else unit = its systemd unit (nginx.service), "" when neither, "other" past the
      first --max-containers of them
  rstrace_lost_events_total       records the kernel dropped (ring buffer full)
  rstrace_filtered_events_total   records dropped by the filters given here
  rstrace_delivered_events_total  records that reached rstrace
  rstrace_kernel_out_rsts{netns,name}, rstrace_kernel_send_reset_hooks{netns,name}
      the kernel's TcpOutRsts growth and the tcp_send_reset hits per namespace (equal:
      nothing missed), with rstrace_kernel_seen_sent, rstrace_kernel_not_delivered and
      rstrace_kernel_check_mismatch (1: they differ); at most 64 namespaces
  process_*, nodejs_*             rstrace's own CPU, memory, event loop

It listens on loopback by default: a scrape carries process names and is not
authenticated. Any other address is reachable from other hosts and gets a warning.

Prometheus (prometheus.yml), one rstrace per host:
  scrape_configs:
    - job_name: rstrace
      static_configs: [{ targets: ['127.0.0.1:9477'] }]

Examples:
  rstrace metrics                            serve on 127.0.0.1:9477
  rstrace metrics --listen [::1]:9477        IPv6 loopback
  rstrace metrics --port 443 --max-comms 20  resets on port 443 only, 20 process names
  rstrace metrics --cgroup /kubepods.slice   pods only, by container
  curl -s 127.0.0.1:9477/metrics | grep ^rstrace_resets_total
  rstrace metrics --json -o /var/lib/rstrace/rstrace.trace --rotate-size 64M --rotate-keep 8
                                             one agent: metrics, JSON lines and rotated files
${ROTATION_HELP}
${PRIVILEGES_HELP}`)
    .action(async (opts: Opts) => {
      // Bad filters and a bad address fail before anything is attached or bound.
      const filters = filtersFrom(opts);
      const rotation = rotationFrom(opts);
      const sink = await serveMetrics(opts.listen, opts.maxComms, opts.maxContainers);
      const traceOptions: TraceOptions = {
        json: opts.json ?? false,
        firewall: opts.firewall ?? false,
        output: opts.output,
        rotation,
        table: false,
        quiet: true,
        metrics: sink,
        durationSec: opts.duration,
        ...filters,
        assumeNoReason: false,
        recorded: recordable(opts),
      };
      try {
        process.exitCode = await runTrace(traceOptions);
      } finally {
        await sink.close(); // idempotent: runTrace closes it too
      }
    });
}
