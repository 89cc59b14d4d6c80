/** Waiting on child processes in e2e tests: polls bounded in time, and stopping a child for sure. */
import type { ChildProcess } from 'node:child_process';

/** An error that ends a wait at once, where any other one is retried. */
export class Fatal extends Error {}

/** Polls `check` every 250 ms until it returns a value, for at most `ms`; `seen` says what was there instead. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>, seen?: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0; Date.now() < deadline && i < ms / 250 + 1; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${ms} ms${seen ? `; last seen: ${seen()}` : ''}${last ? ` (last error: ${String(last)})` : ''}`);
}

/** Stops a child (`signal`, then SIGKILL after `killAfterMs`) and resolves with its exit code. */
export async function stopChild(c: { proc: ChildProcess; exited: Promise<number | null> } | undefined,
  signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<number | null> {
  if (!c) return null;
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(signal);
  const killer = setTimeout(() => c.proc.kill('SIGKILL'), killAfterMs);
  const code = await c.exited;
  clearTimeout(killer);
  return code;
}
