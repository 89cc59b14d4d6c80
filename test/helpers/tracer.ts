/**
 * Runs the real CLI (bin/rstrace) as a child process, as a user would, and
 * collects what it prints. Every tracer started here is stopped and awaited
 * by stopAllTracers(), also when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ResetEvent } from '../../src/event.js';

export const RSTRACE = fileURLToPath(new URL('../../bin/rstrace', import.meta.url));

export interface RunningTracer {
  child: ChildProcess;
  events: ResetEvent[];
  stdout: () => string;
  stderr: () => string;
  /** resolves with the first event matching, or rejects after timeoutMs */
  waitFor(pred: (e: ResetEvent) => boolean, timeoutMs?: number): Promise<ResetEvent>;
  /** SIGINT (or the given signal), then the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const running = new Set<RunningTracer>();

export async function startTracer(args: string[] = [], opts: { json?: boolean; attachTimeoutMs?: number } = {}): Promise<RunningTracer> {
  const json = opts.json ?? true;
  const child = spawn(RSTRACE, ['trace', ...(json ? ['--json'] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  const events: ResetEvent[] = [];
  const waiters: { pred: (e: ResetEvent) => boolean; resolve: (e: ResetEvent) => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    if (!json) return;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const e = JSON.parse(line) as ResetEvent;
      events.push(e);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(e)) { waiters[i].resolve(e); waiters.splice(i, 1); }
      }
    }
  });
  child.stderr!.on('data', (chunk: string) => { err += chunk; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const t: RunningTracer = {
    child, events, exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(pred, timeoutMs = 10_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (e: ResetEvent) => { clearTimeout(timer); resolve(e); } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching event within ${timeoutMs} ms; saw ${events.length}: ${JSON.stringify(events.slice(-5))}\nstderr: ${err}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(killer);
      running.delete(t);
      return code;
    },
  };
  running.add(t);

  // Ready once the hooks are attached (the CLI says so on stderr).
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tracer did not attach within ${opts.attachTimeoutMs ?? 15000} ms: ${err}`)), opts.attachTimeoutMs ?? 15_000);
    const check = (): void => {
      if (/attached/.test(err)) { clearTimeout(timer); resolve(); }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => { clearTimeout(timer); if (!/attached/.test(err)) reject(new Error(`tracer exited with ${code}: ${err}`)); });
  });
  return t;
}

export async function stopAllTracers(): Promise<void> {
  await Promise.all([...running].map((t) => t.stop()));
}
