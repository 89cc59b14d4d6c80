/**
 * `rstrace trace` on a real terminal (tmux, 100x30): the table fits, the header comes back
 * every screen, the status line counts what was provoked, colour follows --color and NO_COLOR;
 * and on loopback a sent RST is printed before the peer's receipt of it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/loopback.js';
import { loadgen } from '../helpers/loadgen.js';
import { startTracer, stopAllTracers } from '../helpers/tracer.js';
import { killAllPanes, rstraceInPane, widthOf, type Pane } from '../helpers/tmux.js';

const ROW = /^\d\d:\d\d:\d\d (sent|received) +(\d+) /;
const HEADER = /^TIME +KIND +CODE /;
const attached = (l: string[]): boolean => l.some((x) => x.includes('attached'));

afterEach(() => killAllPanes());
afterAll(async () => { killAllPanes(); await stopAllTracers(); });

describe('the live table on a 100x30 terminal', () => {
  it('fits 100 columns, repeats its header every screen, and its status line counts exactly what was provoked', async () => {
    const port = await freePort();
    const pane = rstraceInPane('table', ['trace', '--port', String(port)]);
    await pane.waitFor('attach line', attached);
    const load = loadgen('refused', port, 150, ['--rate', '3000']);
    const pairs = load.resets + load.probes;
    expect(load.resets).toBe(150);
    const status = new RegExp(`^rstrace: ${2 * pairs} events, \\d+/s, 0 lost \\| 0 remote-reset ${pairs}, 11 syn-unknown-port ${pairs}$`);
    await pane.waitFor('status line with every event', (l) => l.some((x) => status.test(x)));

    const screen = pane.screen();
    // the status line is the last line written, below the rows
    const lastText = screen.filter((l) => l.trim() !== '').pop();
    expect(lastText).toMatch(status);
    const all = pane.history();
    for (const l of all) expect(widthOf(l), l).toBeLessThanOrEqual(100);
    const rows = all.filter((l) => ROW.test(l));
    expect(rows.filter((l) => /^\S+ sent +11 /.test(l) && l.includes(`127.0.0.1:${port} `)).length).toBe(pairs);
    expect(rows.filter((l) => /^\S+ received +0 /.test(l) && l.includes(`127.0.0.1:${port} `)).length).toBe(pairs);
    // a screen holds 28 rows below a header (one line for the header, one for the status line)
    const headers = all.filter((l) => HEADER.test(l)).length;
    expect(headers).toBe(Math.ceil((2 * pairs) / 28));
    expect(all.find((l) => HEADER.test(l))).toMatch(/^TIME +KIND +CODE COMM +LOCAL +REMOTE +WHY$/);

    pane.keys('C-c');
    const end = await pane.waitFor('summary', (l) => l.some((x) => x === '[exit 0]'));
    expect(end.some((l) => l.startsWith(`rstrace: ${2 * pairs} events, 0 lost`))).toBe(true);
    // the status line was erased, not left behind
    expect(end.some((l) => /events, \d+\/s/.test(l))).toBe(false);
  });

  it('colours KIND and CODE on a terminal; NO_COLOR turns it off and --color always back on', async () => {
    const port = await freePort();
    const panes: [Pane, boolean][] = [
      [rstraceInPane('color', ['trace', '--port', String(port)]), true],
      [rstraceInPane('nocolor', ['trace', '--port', String(port)], { env: { NO_COLOR: '1' } }), false],
      [rstraceInPane('always', ['trace', '--port', String(port), '--color', 'always'], { env: { NO_COLOR: '1' } }), true],
      [rstraceInPane('never', ['trace', '--port', String(port), '--color', 'never']), false],
    ];
    for (const [p] of panes) await p.waitFor('attach line', attached);
    loadgen('refused', port, 3);
    for (const [p, colored] of panes) {
      await p.waitFor('rows', (l) => l.filter((x) => ROW.test(x)).length >= 8);
      const text = p.screen({ escapes: true }).join('\n');
      // red for what this host sent, yellow for what it received
      expect(text.includes('\x1b[31msent'), p.name).toBe(colored);
      expect(text.includes('\x1b[33mreceived'), p.name).toBe(colored);
    }
  });
});

describe('cause before effect on loopback', () => {
  it('a linger-0 abort: the client\'s sent RST comes before the server\'s received one (--json; the table and -o read the same reordered batch)', async () => {
    const port = await freePort();
    const t = await startTracer(['--port', String(port)]);
    const load = loadgen('linger0', port, 30, ['--threads', '1', '--rate', '300']);
    expect(load.resets).toBe(30);
    await t.waitFor(() => t.events.filter((e) => e.kind === 'received' && e.lport === port).length >= 30);
    await t.stop();
    const events = t.events;
    let pairs = 0;
    events.forEach((e, i) => {
      if (e.kind !== 'received' || e.lport !== port) return;
      const cause = events.findIndex((s) => s.kind === 'sent' && s.lport === e.rport && s.rport === port);
      expect(cause, JSON.stringify(e)).toBeGreaterThanOrEqual(0);
      expect(cause, `received at ${i}, its cause at ${cause}`).toBeLessThan(i);
      pairs++;
    });
    expect(pairs).toBe(30);
  });
});
