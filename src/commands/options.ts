/** Option parsers shared by the commands: bad values are usage errors (exit 2). */
import { InvalidArgumentError, type Command } from 'commander';
import { parseFilterOptions, type EventFilter } from '../filter.js';
import type { TraceOptions } from '../trace.js';
import { KINDS } from '../event.js';

export function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) <= 0) {
      throw new InvalidArgumentError(`${name} takes a whole number greater than 0, got '${value}'`);
    }
    return Number(value);
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} takes a number of seconds greater than 0, got '${value}'`);
    return n;
  };
}

/** The filter options, shared by `trace`, `report` and `metrics`. */
export const FILTER_HELP = {
  pid: 'only resets owned by these process ids (comma-separated)',
  comm: 'only resets owned by processes with these command names',
  port: 'only resets with this local or remote port (comma-separated)',
  netns: 'only resets in these network namespaces (inode, as in /proc/PID/ns/net or `ip netns identify`)',
  cgroup: 'only resets owned by this cgroup (v2 path or id)',
  code: 'only these reset codes (numbers or keys, e.g. 11,closed-with-data)',
  kind: `only these kinds: ${KINDS.join(', ')}`,
} as const;

/** Adds the filter options shared by `trace`, `metrics`, `report` and `export`. */
export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--pid <pids>', FILTER_HELP.pid)
    .option('--comm <names>', FILTER_HELP.comm)
    .option('--port <ports>', FILTER_HELP.port)
    .option('--netns <inodes>', FILTER_HELP.netns)
    .option('--cgroup <pathOrId>', FILTER_HELP.cgroup)
    .option('--code <codes>', FILTER_HELP.code)
    .option('--kind <kinds>', FILTER_HELP.kind);
}

/** The filter options as commander gives them. */
export interface FilterOptions {
  pid?: string;
  comm?: string;
  port?: string;
  netns?: string;
  cgroup?: string;
  code?: string;
  kind?: string;
}

/** Commander's filter options -> the user-space filter and the kernel's share of it. */
export function filtersFrom(opts: FilterOptions): Pick<TraceOptions, 'filter' | 'kernelFilter'> {
  const filter: EventFilter = parseFilterOptions({ ...opts }); // resolves --cgroup paths too
  // A filter of exactly one value can be done in the kernel, so filtered resets cost nothing.
  const single = (list: number[] | undefined): number | undefined => (list && list.length === 1 ? list[0] : undefined);
  const cgroup = single(filter.cgroups);
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
