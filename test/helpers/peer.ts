// Runs build/rstpeer (test/peers/rstpeer.c) as a separate process, optionally inside a test
// namespace, and lets a test wait for the `key=value` lines it prints.
//
//   const srv = spawnPeer(['tcp4', 'bind=127.0.0.1:0', 'listen=1', 'port', 'accept', 'wait'], { netns: ns });
//   const port = await srv.waitLine('port');
//   const cli = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`], { netns: ns });
//   expect(await cli.waitLine(['connected', 'error'])).toMatch(/^127/);
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, renameSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackProcess } from './netns.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RSTPEER = resolve(root, 'build/rstpeer');
const SOURCE = resolve(root, 'test/peers/rstpeer.c');

/** Build build/rstpeer when it is missing or older than its source (as the Makefile does). */
export function ensurePeerBuilt(): string {
  const stale = !existsSync(RSTPEER) || statSync(RSTPEER).mtimeMs < statSync(SOURCE).mtimeMs;
  if (stale) {
    // Build beside and rename: vitest workers building at once never run a half-written binary.
    const tmp = `${RSTPEER}.${process.pid}.tmp`;
    execFileSync('mkdir', ['-p', dirname(RSTPEER)]);
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', tmp, SOURCE], { timeout: 60_000 });
    renameSync(tmp, RSTPEER);
  }
  return RSTPEER;
}

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PeerLine {
  key: string;
  /** Text after the first '=', '' for a bare line such as `done`. */
  value: string;
}

export interface Peer {
  pid: number;
  /** Every stdout line so far. */
  readonly lines: string[];
  readonly stderr: string;
  /**
   * Wait for the next unconsumed line whose key is `key` (or one of `keys`) and consume it;
   * resolves with its value. Rejects when the peer exits first or after `timeoutMs`.
   */
  waitLine(key: string | string[], timeoutMs?: number): Promise<string>;
  /** Same, resolving with the key as well (to tell `connected` from `error`). */
  waitEvent(keys: string | string[], timeoutMs?: number): Promise<PeerLine>;
  /** Write a line to the peer's stdin (releases a `wait` step). */
  send(line?: string): void;
  exited: Promise<PeerExit>;
  kill(signal?: NodeJS.Signals): void;
}

export interface PeerOptions {
  /** Run inside `ip netns exec NETNS`. */
  netns?: string;
  /** Default timeout of waitLine (ms). */
  timeoutMs?: number;
}

function parse(line: string): PeerLine {
  const eq = line.indexOf('=');
  return eq < 0 ? { key: line, value: '' } : { key: line.slice(0, eq), value: line.slice(eq + 1) };
}

export function spawnPeer(steps: string[], opts: PeerOptions = {}): Peer {
  const bin = ensurePeerBuilt();
  // `ip netns exec` execs in place (no fork), so child.pid is rstpeer's own pid.
  const argv = opts.netns ? ['ip', 'netns', 'exec', opts.netns, bin, ...steps] : [bin, ...steps];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  trackProcess(child);
  const defaultTimeout = opts.timeoutMs ?? 10_000;

  const lines: string[] = [];
  const consumed: boolean[] = [];
  let stderr = '';
  let partial = '';
  let exitInfo: PeerExit | null = null;
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());

  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      consumed.push(false);
    }
    poke();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => { /* the peer may be gone already */ });
  const exited = new Promise<PeerExit>((resolveExit) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      poke();
      resolveExit(exitInfo);
    });
  });
  if (child.pid === undefined) throw new Error(`cannot start ${argv.join(' ')}`);

  const describe = () =>
    `rstpeer ${steps.join(' ')}${opts.netns ? ` (netns ${opts.netns})` : ''}\n  stdout: ${lines.join(' | ')}\n  stderr: ${stderr.trim()}`;

  const waitEvent = (keys: string | string[], timeoutMs = defaultTimeout): Promise<PeerLine> => {
    const want = Array.isArray(keys) ? keys : [keys];
    return new Promise((resolveLine, reject) => {
      const check = () => {
        for (let i = 0; i < lines.length; i++) {
          if (consumed[i]) continue;
          const p = parse(lines[i]);
          if (want.includes(p.key)) {
            consumed[i] = true;
            done();
            resolveLine(p);
            return;
          }
        }
        if (exitInfo) {
          done();
          reject(new Error(`peer exited (${exitInfo.code ?? exitInfo.signal}) before a ${want.join('|')} line: ${describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${want.join('|')} line within ${timeoutMs} ms: ${describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  };

  return {
    pid: child.pid,
    get lines() { return lines; },
    get stderr() { return stderr; },
    waitEvent,
    waitLine: async (keys, timeoutMs) => (await waitEvent(keys, timeoutMs)).value,
    send: (line = 'go') => {
      if (!exitInfo) child.stdin!.write(`${line}\n`);
    },
    exited,
    kill: (signal = 'SIGKILL') => {
      if (!exitInfo) child.kill(signal);
    },
  };
}
