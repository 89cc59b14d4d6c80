/**
 * Every option value rstrace takes is parsed here, by a commander parser:
 * a bad value throws commander's InvalidArgumentError (`valueError`) carrying
 * our "--<option>: <what>: <remedy>", so that every bad value takes commander's one error
 * path (src/cli.ts prints it as one line, exit 2) before any action runs, and
 * actions get typed values.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { RstraceError, valueError } from '../errors.js';
import { KINDS, type Kind } from '../event.js';
import { parseFormat } from '../export.js';
import { checkTimeRange, FILTER_VALUE, parseWhen, splitList, type EventFilter } from '../filter.js';
import { parseListenAddress } from '../sinks/metrics.js';
import { COLOR_WHEN, type ColorWhen } from '../sinks/ansi.js';
import type { TraceOptions } from '../trace.js';

/** Wraps one of our value parsers (which throw RstraceError) for commander. */
export function valueParser<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      if (err instanceof RstraceError) throw valueError(err.oneLine().replace(/^rstrace: /, ''));
      throw err;
    }
  };
}

/** A comma-separated list option; given twice, the lists add up. */
function listParser<T>(parse: (text: string) => T): (text: string, previous?: T[]) => T[] {
  const one = valueParser(parse);
  return (text, previous) => [...(previous ?? []), ...splitList(text).map(one)];
}

function invalid(option: string, text: string, expected: string): never {
  throw valueError(`${option}: '${text}' is not valid: give ${expected}`);
}

export function positiveInt(option: string): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) <= 0) invalid(option, text, 'a whole number greater than 0');
    return Number(text);
  };
}

export function wholeNumber(option: string): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) invalid(option, text, 'a whole number of 0 or more');
    return Number(text);
  };
}

export function positiveSeconds(option: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0) invalid(option, text, 'a number of seconds greater than 0, e.g. 30 or 0.5');
    return n;
  };
}

export const exportFormat = valueParser(parseFormat);

/** `-o FILE`: refused before anything runs when its directory does not exist (the file itself is created later). */
export function outputFile(text: string): string {
  if (text === '') invalid('--output', text, 'a file name');
  const dir = dirname(text);
  if (!existsSync(dir)) throw valueError(`--output: directory ${dir} does not exist: create it first or give -o a path in an existing directory`);
  if (!statSync(dir).isDirectory()) throw valueError(`--output: ${dir} is not a directory: give -o a path in a directory`);
  return text;
}

/** `--color auto|always|never`. */
export function colorWhen(text: string): ColorWhen {
  if (!(COLOR_WHEN as readonly string[]).includes(text)) invalid('--color', text, COLOR_WHEN.join(', '));
  return text as ColorWhen;
}

/** `--listen`: checked here so that a malformed address fails before anything is attached. */
export const listenAddress = valueParser((text: string): string => {
  parseListenAddress(text);
  return text;
});

export const SINCE_HELP = 'only resets at or after this time: ISO (2026-11-26T07:00:00Z; UTC when no zone is given) or a duration ago (30s, 10m, 2h, 1d)';
export const UNTIL_HELP = 'only resets at or before this time (same forms as --since)';

/** The filter options, shared by `trace`, `report`, `export` and `metrics`. */
export const FILTER_HELP = {
  pid: 'only resets owned by these process ids (comma-separated)',
  comm: 'only resets owned by processes with these command names',
  port: 'only resets with this local or remote port (comma-separated)',
  netns: 'only resets in these network namespaces (inode, as in /proc/PID/ns/net or `ip netns identify`)',
  cgroup: 'only resets owned by these cgroups: a v2 path (as in /proc/PID/cgroup) matches it and every cgroup below it; a number is a cgroup id, matched exactly. Live, the kernel drops the cgroups that exist at the start and do not match; later ones are judged in user space',
  container: 'only resets owned by these containers (docker, containerd/CRI, CRI-O, podman): an id or its first hex digits; in the kernel as --cgroup',
  unit: 'only resets owned by these systemd units (the last .service/.scope of the cgroup path; nginx matches nginx.service); in the kernel as --cgroup',
  code: 'only these reset codes (numbers or keys, e.g. 11,closed-with-data)',
  kind: `only these kinds: ${KINDS.join(', ')}`,
} as const;

/** The filter options as the parsers give them. */
export interface FilterOptions {
  pid?: number[];
  comm?: string[];
  port?: number[];
  netns?: number[];
  cgroup?: (number | string)[];
  container?: string[];
  unit?: string[];
  code?: number[];
  kind?: Kind[];
  since?: number;
  until?: number;
}

/** Adds the filter options; `time` adds --since/--until (trace files only: a live trace has no past). */
export function addFilterOptions(cmd: Command, { time = false } = {}): Command {
  cmd
    .option('--pid <pids>', FILTER_HELP.pid, listParser(FILTER_VALUE.pid))
    .option('--comm <names>', FILTER_HELP.comm, listParser(FILTER_VALUE.comm))
    .option('--port <ports>', FILTER_HELP.port, listParser(FILTER_VALUE.port))
    .option('--netns <inodes>', FILTER_HELP.netns, listParser(FILTER_VALUE.netns))
    .option('--cgroup <pathsOrIds>', FILTER_HELP.cgroup, listParser(FILTER_VALUE.cgroup))
    .option('--container <ids>', FILTER_HELP.container, listParser(FILTER_VALUE.container))
    .option('--unit <names>', FILTER_HELP.unit, listParser(FILTER_VALUE.unit))
    .option('--code <codes>', FILTER_HELP.code, listParser(FILTER_VALUE.code))
    .option('--kind <kinds>', FILTER_HELP.kind, listParser(FILTER_VALUE.kind));
  if (time) {
    cmd
      .option('--since <time>', SINCE_HELP, valueParser((t: string) => parseWhen('--since', t)))
      .option('--until <time>', UNTIL_HELP, valueParser((t: string) => parseWhen('--until', t)));
  }
  return cmd;
}

/** The parsed filter options -> the user-space filter (an empty list filters nothing, as no option). */
export function filterFrom(opts: FilterOptions): EventFilter {
  const f: EventFilter = {};
  const some = <T>(list: T[] | undefined): T[] | undefined => (list && list.length ? list : undefined);
  const set = <K extends keyof EventFilter>(key: K, value: EventFilter[K] | undefined): void => {
    if (value !== undefined) f[key] = value;
  };
  set('pids', some(opts.pid));
  set('comms', some(opts.comm));
  set('ports', some(opts.port));
  set('netns', some(opts.netns));
  set('cgroups', some(opts.cgroup?.filter((c): c is number => typeof c === 'number')));
  set('cgroupPaths', some(opts.cgroup?.filter((c): c is string => typeof c === 'string')));
  set('containers', some(opts.container));
  set('units', some(opts.unit));
  set('codes', some(opts.code));
  set('kinds', some(opts.kind));
  set('since', opts.since);
  set('until', opts.until);
  checkTimeRange(f);
  return f;
}

/** The filter and the kernel's share of it, for a live trace. */
export function filtersFrom(opts: FilterOptions): Pick<TraceOptions, 'filter' | 'kernelFilter'> {
  const filter = filterFrom(opts);
  // A filter of exactly one value can be done in the kernel, so filtered resets cost nothing.
  const single = (list: number[] | undefined): number | undefined => (list && list.length === 1 ? list[0] : undefined);
  // a cgroup id alone (no path): a path also matches the cgroups below it, which the kernel cannot tell
  const cgroup = filter.cgroupPaths ? undefined : single(filter.cgroups);
  return {
    filter,
    kernelFilter: {
      filterTgid: single(filter.pids),
      filterPort: single(filter.ports),
      filterNetns: single(filter.netns),
      filterCgroup: cgroup === undefined ? undefined : BigInt(cgroup),
    },
  };
}
