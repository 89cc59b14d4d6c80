import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addFilterOptions, filterFrom, type FilterOptions } from '../../src/commands/options.js';
import { describeFailure } from '../../src/errors.js';
import { matchesFilter, parseCgroup, parseWhen, type EventFilter } from '../../src/filter.js';
import { sampleEvent } from '../helpers/sample-events.js';

const NOW = Date.parse('2026-11-26T08:00:00Z');

/** The filter options through commander's parsers, as the CLI parses them. */
function filterOf(args: string[]): EventFilter {
  const cmd = addFilterOptions(new Command('report'), { time: true }).exitOverride().configureOutput({ outputError: () => {} });
  cmd.parse(args, { from: 'user' });
  return filterFrom(cmd.opts<FilterOptions>());
}

/** A usage error (exit 2) in the CLI's one-line form, naming the option. */
function usageError(fn: () => unknown, option: string): void {
  try {
    fn();
  } catch (err) {
    const { line, exitCode } = describeFailure(err, 'report');
    expect(exitCode).toBe(2);
    expect(line).toMatch(/^rstrace: \S/);
    expect(line).not.toContain('\n');
    expect(line).toContain(option);
    return;
  }
  throw new Error(`expected a usage error for ${option}`);
}

describe('filter options', () => {
  it('parses comma-separated lists, repeated options, codes by number or key', () => {
    expect(filterOf(['--pid', '1,2', '--comm', 'nginx', '--comm', 'curl,java', '--port', '443', '--code', '11,closed-with-data', '--kind', 'sent,abort']))
      .toEqual({ pids: [1, 2], comms: ['nginx', 'curl', 'java'], ports: [443], codes: [11, 16], kinds: ['sent', 'abort'] });
    expect(filterOf([])).toEqual({});
    expect(filterOf(['--pid', ','])).toEqual({}); // an empty list filters nothing
  });

  it('since/until accept ISO times (UTC without a zone) and durations ago', () => {
    expect(parseWhen('--since', '10m', NOW)).toBe(NOW - 600_000);
    expect(parseWhen('--since', '2h', NOW)).toBe(NOW - 7_200_000);
    expect(parseWhen('--since', '2026-11-26T07:00:00Z', NOW)).toBe(Date.parse('2026-11-26T07:00:00Z'));
    expect(parseWhen('--since', '2026-11-26 07:00', NOW)).toBe(Date.parse('2026-11-26T07:00:00Z'));
    expect(parseWhen('--since', '2026-11-26', NOW)).toBe(Date.parse('2026-11-26T00:00:00Z'));
    expect(parseWhen('--until', '2026-11-26T09:00:00+02:00', NOW)).toBe(Date.parse('2026-11-26T07:00:00Z'));
  });

  it('invalid values are usage errors naming the option', () => {
    usageError(() => filterOf(['--pid', 'abc']), '--pid');
    usageError(() => filterOf(['--port', '70000']), '--port');
    usageError(() => filterOf(['--netns', '-1']), '--netns');
    usageError(() => filterOf(['--code', 'no-such-code']), '--code');
    usageError(() => filterOf(['--code', '99']), '--code');
    usageError(() => filterOf(['--kind', 'lost']), '--kind');
    usageError(() => filterOf(['--since', 'yesterday']), '--since');
    usageError(() => filterOf(['--until', '10 minutes']), '--until');
    usageError(() => filterOf(['--since', '1h', '--until', '2h']), '--since');
    usageError(() => filterOf(['--cgroup', '/system.slice/../etc']), '--cgroup');
    usageError(() => filterOf(['--container', 'nginx']), '--container');
    usageError(() => filterOf(['--unit', 'system.slice/nginx.service']), '--unit');
  });

  it('--cgroup: a number is an id, anything else a path below the cgroup2 root, looked up nowhere', () => {
    expect(parseCgroup('12345')).toBe(12345);
    expect(parseCgroup('/no/such/cgroup/here')).toBe('/no/such/cgroup/here'); // a trace file may name another host's
    expect(parseCgroup('system.slice/nginx.service/')).toBe('/system.slice/nginx.service');
    expect(parseCgroup('/')).toBe('/');
    // a path on a cgroup2 mount, including the hybrid layout's
    expect(parseCgroup('/sys/fs/cgroup/system.slice')).toBe('/system.slice');
    expect(parseCgroup('/sys/fs/cgroup/unified/rsth3.slice')).toBe('/rsth3.slice');
    expect(parseCgroup('/sys/fs/cgroup')).toBe('/');
  });

  it('--cgroup ids and paths, --container and --unit land in the filter', () => {
    expect(filterOf(['--cgroup', '42,/a.slice', '--container', 'containerd://3F2A', '--unit', 'nginx'])).toEqual({
      cgroups: [42], cgroupPaths: ['/a.slice'], containers: ['3f2a'], units: ['nginx'],
    });
  });
});

describe('matchesFilter', () => {
  const e = sampleEvent(); // pid 1234, comm nginx, ports 8080/43210, code 16, sent, cgroup 4242, netns 4026531840
  it('an empty filter matches everything', () => {
    expect(matchesFilter(e, {})).toBe(true);
  });
  it('each condition must hold; a list matches any of its values', () => {
    expect(matchesFilter(e, { pids: [1, 1234] })).toBe(true);
    expect(matchesFilter(e, { pids: [1] })).toBe(false);
    expect(matchesFilter(e, { comms: ['nginx'] })).toBe(true);
    expect(matchesFilter(e, { ports: [43210] })).toBe(true); // remote port too
    expect(matchesFilter(e, { ports: [80] })).toBe(false);
    expect(matchesFilter(e, { netns: [4026531840], cgroups: [4242], codes: [16], kinds: ['sent'] })).toBe(true);
    expect(matchesFilter(e, { codes: [16], kinds: ['abort'] })).toBe(false);
    expect(matchesFilter(sampleEvent({ pid: null }), { pids: [1234] })).toBe(false);
  });
  it('cgroup paths match whole components; ids and paths of one --cgroup list are alternatives', () => {
    const c = sampleEvent({ cgroupId: 77, cgroup: '/system.slice/nginx.service/worker', container: null });
    expect(matchesFilter(c, { cgroupPaths: ['/system.slice'] })).toBe(true);
    expect(matchesFilter(c, { cgroupPaths: ['/system.slice/nginx.service'] })).toBe(true);
    expect(matchesFilter(c, { cgroupPaths: ['/system.slice/nginx'] })).toBe(false);
    expect(matchesFilter(c, { cgroupPaths: ['/'] })).toBe(true);
    expect(matchesFilter(c, { cgroupPaths: ['/user.slice'], cgroups: [77] })).toBe(true);
    expect(matchesFilter(c, { cgroupPaths: ['/user.slice'], cgroups: [78] })).toBe(false);
    expect(matchesFilter(sampleEvent({ cgroup: null }), { cgroupPaths: ['/'] })).toBe(false);
  });
  it('--unit matches the last .service/.scope component, with or without the suffix; --container an id prefix', () => {
    const c = sampleEvent({ cgroup: '/system.slice/nginx.service/worker', container: null });
    expect(matchesFilter(c, { units: ['nginx.service'] })).toBe(true);
    expect(matchesFilter(c, { units: ['nginx'] })).toBe(true);
    expect(matchesFilter(c, { units: ['nginx.scope'] })).toBe(false);
    expect(matchesFilter(c, { units: ['system'] })).toBe(false);
    const id = 'ab'.repeat(32);
    const d = sampleEvent({ cgroup: `/system.slice/docker-${id}.scope`, container: id });
    expect(matchesFilter(d, { containers: ['abab'] })).toBe(true);
    expect(matchesFilter(d, { containers: [id] })).toBe(true);
    expect(matchesFilter(d, { containers: ['abba'] })).toBe(false);
    expect(matchesFilter(c, { containers: ['a'] })).toBe(false);
  });
  it('since/until compare the event time, inclusive', () => {
    const t = Date.parse('2026-11-26T07:00:00.123Z');
    expect(matchesFilter(e, { since: t, until: t })).toBe(true);
    expect(matchesFilter(e, { since: t + 1 })).toBe(false);
    expect(matchesFilter(e, { until: t - 1 })).toBe(false);
  });
});
