import { describe, expect, it } from 'vitest';
import { inert, oneLine } from '../../src/text/inert.js';
import { formatRow } from '../../src/sinks/terminal.js';
import { renderReport } from '../../src/report/render.js';
import { summarize } from '../../src/report/summarize.js';
import { errnoName, ERRNO, TCP_STATE, tcpStateName } from '../../src/kernel/names.js';
import { PRIVILEGES_REMEDY, privilegesRemedyFor } from '../../src/kernel/privileges.js';
import { sampleEvent } from '../helpers/sample-events.js';

const HOSTILE = 'ev\u001b[2Jil\u202eoops\u0085\u2066x\u007f';

describe('text from other processes is printed inert, the same way everywhere', () => {
  it('controls and bidi overrides are escaped; ordinary text, unicode included, is untouched', () => {
    expect(inert(HOSTILE)).toBe('ev\\x1b[2Jil\\u202eoops\\x85\\u2066x\\x7f');
    expect(inert('nginx ünïcødé 😀')).toBe('nginx ünïcødé 😀');
    expect(oneLine(' load: \u001b[31mbad\r\nline ')).toBe('load: \\x1b[31mbad line');
  });

  it('the live table and the report print a hostile comm identically', () => {
    const e = sampleEvent({ comm: HOSTILE });
    expect(formatRow(e)).toContain(inert(HOSTILE));
    const report = renderReport(summarize([e], { lost: 0, filtered: 0, truncated: false, files: ['f'] }));
    expect(report).toContain(inert(HOSTILE));
    expect(report).not.toMatch(/[\u001b\u202e\u2066\u0085]/);
  });
});

describe('kernel names have one home', () => {
  it('TCP state numbers and names are one table', () => {
    expect(tcpStateName(TCP_STATE.ESTABLISHED)).toBe('ESTABLISHED');
    expect(tcpStateName(12)).toBe('NEW_SYN_RECV');
    expect(tcpStateName(0)).toBeNull();
    expect(tcpStateName(13)).toBeNull();
    for (const [name, n] of Object.entries(TCP_STATE)) expect(tcpStateName(n)).toBe(name);
  });

  it('errno names: the classifier\'s constants agree with the platform table; ENOTSUPP is known', () => {
    for (const [name, n] of Object.entries(ERRNO)) expect(errnoName(n)).toBe(name);
    expect(errnoName(524)).toBe('ENOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(99999)).toBe('errno 99999');
  });

  it('the privileges remedy is one text, extended by doctor with how to grant it', () => {
    expect(PRIVILEGES_REMEDY).toMatch(/^run as root or grant CAP_BPF and CAP_PERFMON/);
    expect(privilegesRemedyFor('/usr/bin/node')).toMatch(new RegExp(`^${PRIVILEGES_REMEDY.replace(/[()]/g, '\\$&')}: .*setcap .* /usr/bin/node `));
  });
});
