/**
 * `rstrace top` on a real terminal (tmux, 100x30) during a storm of refused connects to a
 * port of the test's own: the screen fits, its totals are exact once the storm is over, and
 * q or Ctrl-C quits, gives the screen back and prints the totals.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/loopback.js';
import { loadgen } from '../helpers/loadgen.js';
import { killAllPanes, rstraceInPane, widthOf } from '../helpers/tmux.js';

afterEach(() => killAllPanes());
afterAll(() => killAllPanes());

const title = (l: string[]): string => l.find((x) => x.startsWith('rstrace top ')) ?? '';
/** the row of `name` in a table: its per-second rate and total (the first match on the line) */
const row = (lines: string[], name: RegExp): { rate: number; total: number } | null => {
  for (const l of lines) {
    const m = new RegExp(`(?:^|\\s{2})${name.source}\\s+(\\d+)\\s+(\\d+)(?:\\s|$)`).exec(l);
    if (m) return { rate: Number(m[1]), total: Number(m[2]) };
  }
  return null;
};

describe('rstrace top at 100x30', () => {
  it('counts a storm exactly by code, owner, peer and service port, fits the screen, and q restores it', async () => {
    const port = await freePort();
    const pane = rstraceInPane('top', ['top', '--port', String(port)]);
    await pane.waitFor('first screen', (l) => title(l).includes('| q quits'));
    expect(pane.alternateOn()).toBe(true);

    const load = loadgen('refused', port, 20_000);
    const pairs = load.resets + load.probes;
    expect(load.resets).toBe(20_000);
    // totals settle once the storm is over and a refresh has passed
    const screen = await pane.waitFor('exact totals', (l) => title(l).includes(`| ${2 * pairs} resets, 0/s`));

    expect(screen.length).toBe(30);
    for (const l of screen) expect(widthOf(l), l).toBeLessThanOrEqual(100);
    expect(title(screen)).toMatch(new RegExp(`^rstrace top \\d\\d:\\d\\d:\\d\\d \\| ${2 * pairs} resets, 0/s \\(peak [1-9]\\d*/s\\), 0 lost, \\d+ filtered \\| q quits$`));
    expect(screen.some((l) => /^CODE +\/s +TOTAL +OWNER +\/s +TOTAL$/.test(l))).toBe(true);
    expect(row(screen, /0 {2}remote-reset/)).toEqual({ rate: 0, total: pairs });
    expect(row(screen, /11 syn-unknown-port/)).toEqual({ rate: 0, total: pairs });
    expect(row(screen, /loadgen/)).toEqual({ rate: 0, total: pairs });
    expect(row(screen, /kernel \(no socket\)/)).toEqual({ rate: 0, total: pairs });
    // peer on the left, service port on the right of the same line
    expect(screen.some((l) => new RegExp(`^127\\.0\\.0\\.1 +0 +${2 * pairs} +${port} +0 +${2 * pairs}$`).test(l))).toBe(true);

    pane.keys('q');
    const after = await pane.waitFor('exit', (l) => l.includes('[exit 0]'));
    expect(pane.alternateOn()).toBe(false);
    // the screen as it was before top (its attach line), then the totals
    expect(after.some((l) => l.startsWith('rstrace: attached'))).toBe(true);
    expect(after.some((l) => l.startsWith('rstrace top ') && l.includes('q quits'))).toBe(false);
    const summary = new RegExp(`^rstrace top: ${2 * pairs} resets in \\d+\\.\\d s, peak [1-9]\\d*/s; 0 remote-reset ${pairs}, 11 syn-unknown-port ${pairs}$`);
    expect(after.some((l) => summary.test(l)), after.join('\n')).toBe(true);
    expect(after.some((l) => l.startsWith(`rstrace: ${2 * pairs} events, 0 lost`))).toBe(true);
  });

  it('Ctrl-C quits too, and --duration ends it by itself; colour only for bold headers, off with NO_COLOR', async () => {
    const port = await freePort();
    const a = rstraceInPane('topc', ['top', '--port', String(port)]);
    const b = rstraceInPane('topd', ['top', '--port', String(port), '--duration', '2'], { env: { NO_COLOR: '1' } });
    await a.waitFor('first screen', (l) => title(l) !== '');
    await b.waitFor('first screen', (l) => title(l) !== '');
    expect(a.screen({ escapes: true }).join('\n')).toContain('\x1b[1mrstrace top');
    expect(b.screen({ escapes: true }).join('\n')).not.toMatch(/\x1b\[1m/);
    a.keys('C-c');
    await a.waitFor('exit', (l) => l.includes('[exit 0]'));
    expect(a.alternateOn()).toBe(false);
    await b.waitFor('exit', (l) => l.includes('[exit 0]'));
    expect(b.screen().some((l) => /^rstrace top: 0 resets in 2\.\d s/.test(l))).toBe(true);
  });
});
