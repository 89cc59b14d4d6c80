import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RstraceError } from '../../src/errors.js';
import { matchesFilter, parseFilterOptions, parseWhen, resolveCgroupId } from '../../src/filter.js';
import { sampleEvent } from '../helpers/sample-events.js';

const NOW = Date.parse('2026-11-26T08:00:00Z');

function usageError(fn: () => unknown, option: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RstraceError);
    expect((err as RstraceError).exitCode).toBe(2);
    expect((err as RstraceError).oneLine()).toContain(option);
    return;
  }
  throw new Error(`expected a usage error for ${option}`);
}

describe('filter options', () => {
  it('parses comma-separated lists, repeated options, codes by number or key', () => {
    expect(parseFilterOptions({ pid: '1,2', comm: ['nginx', 'curl,java'], port: 443, code: '11,closed-with-data', kind: 'sent,abort', json: true }, NOW))
      .toEqual({ pids: [1, 2], comms: ['nginx', 'curl', 'java'], ports: [443], codes: [11, 16], kinds: ['sent', 'abort'] });
    expect(parseFilterOptions({}, NOW)).toEqual({});
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
    usageError(() => parseFilterOptions({ pid: 'abc' }), '--pid');
    usageError(() => parseFilterOptions({ port: '70000' }), '--port');
    usageError(() => parseFilterOptions({ netns: '-1' }), '--netns');
    usageError(() => parseFilterOptions({ code: 'no-such-code' }), '--code');
    usageError(() => parseFilterOptions({ code: '99' }), '--code');
    usageError(() => parseFilterOptions({ kind: 'lost' }), '--kind');
    usageError(() => parseFilterOptions({ since: 'yesterday' }), '--since');
    usageError(() => parseFilterOptions({ until: '10 minutes' }), '--until');
    usageError(() => parseFilterOptions({ since: '1h', until: '2h' }, NOW), '--since');
    usageError(() => parseFilterOptions({ cgroup: '/no/such/cgroup/here' }), '--cgroup');
  });

  it('cgroup ids: a number as is', () => {
    expect(resolveCgroupId('12345')).toBe(12345);
  });

  const cgroup2Mount = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((m) => {
    try { return statSync(join(m, 'cgroup.procs')).isFile(); } catch { return false; }
  });
  it.skipIf(cgroup2Mount === undefined)('cgroup ids: a cgroup2 directory by its inode (needs a cgroup2 mount)', () => {
    const mount = cgroup2Mount as string;
    const ino = Number(statSync(mount).ino);
    expect(resolveCgroupId(mount)).toBe(ino);
    expect(resolveCgroupId('/')).toBe(ino); // relative to the cgroup2 mount, as /proc/PID/cgroup prints it
    // a directory that is not on cgroup2 is refused
    usageError(() => resolveCgroupId(mkdtempSync(join(tmpdir(), 'notcg-'))), '--cgroup');
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
  it('since/until compare the event time, inclusive', () => {
    const t = Date.parse('2026-11-26T07:00:00.123Z');
    expect(matchesFilter(e, { since: t, until: t })).toBe(true);
    expect(matchesFilter(e, { since: t + 1 })).toBe(false);
    expect(matchesFilter(e, { until: t - 1 })).toBe(false);
  });
});
