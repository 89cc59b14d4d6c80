/**
 * A terminal for tests of the live views: a detached tmux session of a given
 * size running one command, read back with capture-pane. Sessions are named
 * with the helper's prefix and killed by killAllPanes() (afterAll), also when
 * a test fails. The command's pane stays open after it exits, so that what it
 * left on the screen can still be read.
 */
import { execFileSync } from 'node:child_process';
import { RSTRACE } from './tracer.js';

const live = new Set<string>();
let serial = 0;

function tmux(args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface Pane {
  name: string;
  /** the visible screen, one string per line: wrapped lines joined (a line wider than the pane stays one line), trailing spaces trimmed */
  screen(opts?: { escapes?: boolean }): string[];
  /** the screen and what scrolled off it */
  history(): string[];
  keys(...keys: string[]): void;
  /** polls the screen until `pred` holds; rejects with the screen after timeoutMs */
  waitFor(what: string, pred: (lines: string[]) => boolean, timeoutMs?: number): Promise<string[]>;
  /** tmux's alternate-screen flag for the pane */
  alternateOn(): boolean;
  kill(): void;
}

/** Runs `bin/rstrace ARGS` in a new session `rsth4-<tag>-N` of cols x rows, with `env` added. */
export function rstraceInPane(tag: string, args: string[], opts: { cols?: number; rows?: number; env?: Record<string, string> } = {}): Pane {
  const name = `rsth4-${tag}-${process.pid}-${serial++}`;
  // the environment is the tmux server's, whoever started it: NO_COLOR only when asked for
  const env = ['env', '-u', 'NO_COLOR', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const cmd = `${[...env, RSTRACE, ...args].map(quote).join(' ')}; echo "[exit $?]"; sleep 300`;
  tmux(['new-session', '-d', '-x', String(opts.cols ?? 100), '-y', String(opts.rows ?? 30), '-s', name, cmd]);
  live.add(name);
  const capture = (extra: string[]): string[] =>
    tmux(['capture-pane', '-p', '-J', '-t', name, ...extra]).replace(/\n$/, '').split('\n').map((l) => l.trimEnd());
  const pane: Pane = {
    name,
    screen: (o = {}) => capture(o.escapes ? ['-e'] : []),
    history: () => capture(['-S', '-']),
    keys: (...keys) => { tmux(['send-keys', '-t', name, ...keys]); },
    async waitFor(what, pred, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const lines = capture([]);
        if (pred(lines)) return lines;
        if (Date.now() > end) throw new Error(`tmux ${name}: no ${what} within ${timeoutMs} ms; screen:\n${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    alternateOn: () => tmux(['display-message', '-p', '-t', name, '#{alternate_on}']).trim() === '1',
    kill() {
      if (!live.delete(name)) return;
      try { tmux(['kill-session', '-t', name]); } catch { /* already gone */ }
    },
  };
  return pane;
}

export function killAllPanes(): void {
  for (const name of [...live]) {
    live.delete(name);
    try { tmux(['kill-session', '-t', name]); } catch { /* already gone */ }
  }
}

/** Characters on the screen: tmux pads nothing, so this is what a person sees. */
export const widthOf = (line: string): number => Array.from(line).length;
