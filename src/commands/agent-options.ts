/**
 * The options that make `trace` and `metrics` one agent: -o with rotation,
 * --json, and the metrics endpoint. Both commands add the same ones, so one
 * process (one set of hooks) can feed a log shipper, a trace directory and
 * Prometheus at once.
 */
import type { Command } from 'commander';
import { RstraceError } from '../errors.js';
import { MetricsSink, parseListenAddress } from '../sinks/metrics.js';
import { parseDuration, parseSize, type RotationPolicy } from '../tracefile/rotate.js';
import type { OptionValue } from '../tracefile/format.js';
import { outputFile, positiveInt, valueParser } from './options.js';

export interface OutputOpts {
  output?: string;
  rotateSize?: number;
  rotateKeep?: number;
  rotateEvery?: number;
}

/** --firewall, the same for every command that attaches the hooks. */
export function addFirewallOption(cmd: Command): Command {
  return cmd.option('--firewall', 'also report RSTs made by firewall rules (code 4, nftables/iptables reject with tcp reset): '
    + 'hooks net_dev_queue, which runs for every packet this host sends (about 65 ns each); without it no code 4 is '
    + 'reported and a RST this host\'s firewall sent to a local client reads as a refusal by the peer');
}

export const ROTATION_HELP = `
Rotation (with -o DIR/NAME.EXT), as tcpdump -C/-W: the trace goes into files
DIR/NAME-YYYYMMDDTHHMMSSZ-SEQ.EXT (UTC opening time, a sequence number that
continues a series already in DIR), each a complete trace of its own (mode
0600); a new file starts at --rotate-size or after --rotate-every, between two
batches, so nothing is lost; beyond --rotate-keep files the oldest are removed.
'rstrace report DIR' and 'rstrace export DIR' read the series in time order.`;

/** `trace --metrics ADDR`: the address as `metrics --listen` takes it, errors naming --metrics. */
export const metricsAddress = valueParser((text: string): string => {
  try {
    parseListenAddress(text);
  } catch (err) {
    if (err instanceof RstraceError) throw new RstraceError(err.message.replace(/^--listen:/, '--metrics:'), err.remedy.replace('--listen', '--metrics'), err.exitCode);
    throw err;
  }
  return text;
});

/** -o FILE and the rotation options. */
export function addOutputOptions(cmd: Command, outputHelp: string): Command {
  return cmd
    .option('-o, --output <file>', outputHelp, outputFile)
    .option('--rotate-size <size>', 'with -o: start a new file at this size (64M, 512K, 1G; at least 64K)', valueParser((t: string) => parseSize('--rotate-size', t)))
    .option('--rotate-every <duration>', 'with -o: start a new file this often (30m, 1h, 1d)', valueParser((t: string) => parseDuration('--rotate-every', t)))
    .option('--rotate-keep <n>', 'with --rotate-*: keep this many files, remove the oldest', positiveInt('--rotate-keep'));
}

/** The rotation policy of the parsed options; rotation options without -o, or --count with rotation, are refused. */
export function rotationFrom(opts: OutputOpts & { count?: number }): RotationPolicy | undefined {
  const rotating = opts.rotateSize !== undefined || opts.rotateEvery !== undefined;
  if ((rotating || opts.rotateKeep !== undefined) && opts.output === undefined) {
    throw new RstraceError('--rotate-size, --rotate-every and --rotate-keep need -o FILE', 'add -o DIR/NAME.trace, the series\' name', 2);
  }
  if (opts.rotateKeep !== undefined && !rotating) {
    throw new RstraceError('--rotate-keep needs --rotate-size or --rotate-every', 'say when a new file starts, e.g. --rotate-size 64M --rotate-keep 8', 2);
  }
  if (rotating && opts.count !== undefined) {
    throw new RstraceError('--count cannot be used with rotation', 'stop a rotating trace with --duration or a signal, or drop --rotate-*', 2);
  }
  return rotating ? { sizeBytes: opts.rotateSize, everyMs: opts.rotateEvery, keep: opts.rotateKeep } : undefined;
}

/** The options as parsed, for the trace file's header (no undefined values). */
export function recordable(opts: object): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [k, v] of Object.entries(opts) as [string, OptionValue | undefined][]) if (v !== undefined) out[k] = v;
  return out;
}

/** Binds the metrics endpoint and says where; before anything is attached, so a busy port fails first. */
export async function serveMetrics(listen: string, maxComms: number, maxContainers?: number): Promise<MetricsSink> {
  const sink = new MetricsSink({ maxComms, maxContainers });
  const bound = await sink.listen(listen);
  process.stderr.write(`rstrace: serving metrics on http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}/metrics\n`);
  return sink;
}
