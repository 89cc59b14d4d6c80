import { describe, expect, it } from 'vitest';
import { fittedHeader, fittedRow, formatRow, headerLine, tableLayout, TerminalSink } from '../../src/sinks/terminal.js';
import { StatusLine } from '../../src/sinks/status-line.js';
import { cell, fitText, screenColumns, useColor } from '../../src/sinks/ansi.js';
import { displayAddress, shortEndpoint } from '../../src/text/endpoint.js';
import { sampleEvent } from '../helpers/sample-events.js';
import type { ResetEvent } from '../../src/event.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
const width = (s: string): number => Array.from(plain(s)).length;

const EVENTS: ResetEvent[] = [
  sampleEvent(),
  sampleEvent({ kind: 'received', code: 0, family: 'ipv6', laddr: '::ffff:127.0.0.1', lport: 40690, raddr: '::ffff:127.0.0.1', rport: 8080, reason: null }),
  sampleEvent({ family: 'ipv6', laddr: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1', lport: 443, raddr: 'fe80::1234:5678:9abc:def0', rport: 65535 }),
  sampleEvent({ code: 13, comm: 'a-very-long-process-name\u001b[2J', actorComm: 'ss', actorPid: 6001, explanation: 'killed by ss (SOCK_DESTROY)' }),
  sampleEvent({ kind: 'abort', code: 15, pid: null, comm: null, state: null, reason: null }),
];

describe('addresses in a column', () => {
  it('an IPv4-mapped address is shown as IPv4; other addresses unchanged', () => {
    expect(displayAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(displayAddress('::1')).toBe('::1');
    expect(displayAddress('10.0.0.1')).toBe('10.0.0.1');
    expect(shortEndpoint('::ffff:127.0.0.1', 40690)).toBe('127.0.0.1:40690');
    expect(shortEndpoint('::1', 22)).toBe('[::1]:22');
  });

  it('a long address is elided in its middle and keeps its port whole', () => {
    const s = shortEndpoint('2001:db8:aaaa:bbbb:cccc:dddd:eeee:1', 443, 21);
    expect(s).toBe('[2001:db…:eeee:1]:443');
    expect(shortEndpoint('192.168.100.200', 54321, 15)).toBe('192.….200:54321');
    expect(shortEndpoint('10.0.0.1', 80, 15)).toBe('10.0.0.1:80');
  });
});

describe('the table on a terminal fits its width', () => {
  it.each([40, 60, 80, 100, 132, 200])('at %i columns no header or row is wider, WHY included', (cols) => {
    const layout = tableLayout(cols);
    expect(width(fittedHeader(layout, true))).toBeLessThanOrEqual(cols);
    for (const e of EVENTS) {
      expect(width(fittedRow(e, layout))).toBeLessThanOrEqual(cols);
      expect(width(fittedRow(e, layout, true))).toBeLessThanOrEqual(cols);
    }
  });

  it('at 100 columns REASON, STATE, PID and sub-second digits give way and WHY keeps 30 characters', () => {
    const layout = tableLayout(100);
    expect(layout.columns.map((c) => c.title)).toEqual(['TIME', 'KIND', 'CODE', 'COMM', 'LOCAL', 'REMOTE']);
    expect(layout.why).toBeGreaterThanOrEqual(30);
    const row = fittedRow(EVENTS[1], layout);
    expect(row).toContain('127.0.0.1:40690   127.0.0.1:8080    ');
    expect(row).not.toContain('::ffff:');
  });

  it('at 200 columns every column is there in full', () => {
    const layout = tableLayout(200);
    expect(layout.columns.map((c) => c.title)).toEqual(['TIME', 'KIND', 'CODE', 'PID', 'COMM', 'LOCAL', 'REMOTE', 'STATE', 'REASON']);
    expect(fittedRow(EVENTS[0], layout)).toContain('07:00:00.123456 sent     16   1234    nginx');
  });

  it('a process name is printed inert and cut, never raw', () => {
    const row = fittedRow(EVENTS[3], tableLayout(100));
    expect(row).not.toMatch(/\u001b/);
    expect(row).toContain('a-very-lo…');
  });
});

describe('piped output keeps the full columns, byte for byte', () => {
  it('the header and a row are what they always were', () => {
    expect(headerLine()).toBe('TIME            KIND     CODE PID     COMM            LOCAL                  REMOTE                 STATE       REASON                 WHY');
    expect(formatRow(EVENTS[0])).toBe('07:00:00.123456 sent     16   1234    nginx           10.0.0.1:8080          10.0.0.2:43210         ESTABLISHED TCP_ABORT_ON_CLOSE     the application closed the socket with 512 bytes it had not read');
    let out = '';
    new TerminalSink((t) => { out += t; }).writeBatch(EVENTS.slice(0, 2));
    expect(out).toBe(`${headerLine()}\n${formatRow(EVENTS[0])}\n${formatRow(EVENTS[1])}\n`);
  });

  it('--color always paints KIND and CODE only, so the text stays the same', () => {
    const row = formatRow(EVENTS[0], true);
    expect(row).toContain('\x1b[31msent    \x1b[0m');
    expect(plain(row)).toBe(formatRow(EVENTS[0]));
  });
});

describe('header every screen, colour by choice', () => {
  it('on a terminal of 10 rows the header comes back every 8 rows (room for itself and the status line)', () => {
    let out = '';
    const sink = new TerminalSink((t) => { out += t; }, { columns: 100, rows: 10 });
    const batch = Array.from({ length: 20 }, () => EVENTS[0]);
    sink.writeBatch(batch.slice(0, 5));
    sink.writeBatch(batch.slice(5));
    const lines = out.split('\n').filter(Boolean);
    const headers = lines.flatMap((l, i) => (l.startsWith('TIME') ? [i] : []));
    expect(headers).toEqual([0, 9, 18]);
    expect(lines.length).toBe(23);
  });

  it('auto colours a terminal unless NO_COLOR or TERM=dumb; always and never win', () => {
    expect(useColor('auto', { isTTY: true }, {})).toBe(true);
    expect(useColor('auto', { isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor('auto', { isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(useColor('auto', { isTTY: false }, {})).toBe(false);
    expect(useColor('always', { isTTY: false }, { NO_COLOR: '1' })).toBe(true);
    expect(useColor('never', { isTTY: true }, {})).toBe(false);
    expect(screenColumns({}, { COLUMNS: '132' })).toBe(132);
    expect(screenColumns({ columns: 100 }, { COLUMNS: '132' })).toBe(100);
    expect(screenColumns({}, {})).toBe(80);
    expect(fitText('abcdef', 4)).toBe('abc…');
    expect(cell('ab', 4)).toBe('ab  ');
  });
});

describe('the status line', () => {
  it('counts events by code, the rate over the last second and the losses, cut to the width', () => {
    let now = 0;
    let written = '';
    const status = new StatusLine((t) => { written += t; }, () => 60, () => now);
    status.start(() => ({ lost: 3 }));
    for (let i = 0; i < 500; i++) status.count(EVENTS[1]); // code 0
    for (let i = 0; i < 300; i++) status.count(EVENTS[0]); // code 16
    now = 1000;
    (status as unknown as { refresh(): void }).refresh();
    status.stop();
    expect(status.text()).toBe('rstrace: 800 events, 800/s, 3 lost | 0 remote-reset 500, 1…');
    expect(status.text().length).toBeLessThan(60);
    expect(written.endsWith('\r\x1b[K')).toBe(true);
  });

  it('rows go between an erase and a redraw, so the line stays below them', () => {
    const parts: string[] = [];
    const status = new StatusLine((t) => parts.push(`err:${t}`), () => 80, () => 0);
    status.start(() => ({ lost: 0 }));
    status.around(() => parts.push('out:row'));
    status.stop();
    expect(parts).toEqual(['err:rstrace: 0 events, 0/s, 0 lost', 'err:\r\x1b[K', 'out:row', 'err:rstrace: 0 events, 0/s, 0 lost', 'err:\r\x1b[K']);
  });
});
