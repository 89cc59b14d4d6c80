// Forged RSTs and the tcpdump cross-check, for the e2e tests of issue 10 (ignored, firewall and
// TIME_WAIT RSTs): an injector (test/peers/rstinject.py, a raw socket in the namespace of the end
// the RST claims to come from) and a tcpdump per namespace whose RSTs are compared one for one
// with the tracer's events.
//
//   const inj = await injector(ctx, nsB, 'h1b', `${b}:${port}`, `${a}:${cport}`);
//   await inj.inject('rst 0');                 // the exact RST
//   const cap = await rstCapture(ctx, nsA);    // ... scenario ...
//   expect(compareRsts(await cap.stop(), t.events, netnsInode(nsA))).toEqual({ missing: [], extra: [] });
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ResetEvent } from '../../src/event.js';
import { RST_FILTER, trackProcess } from './netns.js';

const INJECT = fileURLToPath(new URL('../peers/rstinject.py', import.meta.url));

interface Finishing {
  onTestFinished: (fn: () => Promise<void> | void) => void;
}

/** Lines of a child's stdout, with a bounded wait for the next one matching. */
function lineReader(child: ChildProcess, what: string) {
  const lines: string[] = [];
  let used = 0;
  let err = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter((l) => l.trim() !== ''));
    waiters.forEach((w) => w());
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.once('close', () => waiters.forEach((w) => w()));
  const next = (re: RegExp, timeoutMs = 10_000): Promise<string> => new Promise((resolve, reject) => {
    const check = () => {
      for (; used < lines.length; used++) {
        if (re.test(lines[used])) { done(); resolve(lines[used++]); return; }
      }
      if (child.exitCode !== null || child.signalCode !== null) { done(); reject(new Error(`${what} exited: ${err}`)); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`${what}: no ${re} within ${timeoutMs} ms: ${lines.join(' | ')} ${err}`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });
  return { next, lines, stderr: () => err };
}

export interface Injected {
  seq: number;
  ack: number;
  /** the RST's tuple, as tcpdump prints it */
  src: string;
  dst: string;
}

export interface Injector {
  /** `rst OFFSET` or `rstack OFFSET` (see rstinject.py); resolves once the RST is sent */
  inject(command: string): Promise<Injected>;
  readonly injected: Injected[];
}

/** rstinject.py in `ns`, watching `iface` for the connection `src` -> `dst` (ADDR:PORT, IPv4). */
export async function injector(ctx: Finishing, ns: string, iface: string, src: string, dst: string): Promise<Injector> {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', INJECT, iface, src, dst], { stdio: ['pipe', 'pipe', 'pipe'] });
  trackProcess(child);
  ctx.onTestFinished(() => { child.kill('SIGKILL'); });
  const out = lineReader(child, 'rstinject');
  await out.next(/^ready$/);
  const injected: Injected[] = [];
  return {
    injected,
    async inject(command) {
      child.stdin!.write(`${command}\n`);
      const line = await out.next(/^(injected|error)/);
      const m = /^injected seq=(\d+) ack=(\d+)$/.exec(line);
      if (!m) throw new Error(`rstinject ${command}: ${line}`);
      const i = { seq: Number(m[1]), ack: Number(m[2]), src, dst };
      injected.push(i);
      return i;
    },
  };
}

/** One RST as tcpdump saw it in a namespace. */
export interface SeenRst {
  iface: string;
  dir: 'In' | 'Out';
  src: string;
  dst: string;
  flags: string;
}

const LINE = /^\S+ (\S+)\s+(In|Out)\s.*?: ([0-9a-f:.]+)\.(\d+) > ([0-9a-f:.]+)\.(\d+): Flags \[([^\]]*)\]/;

export interface RstCapture {
  /** Stop tcpdump (after it has had a moment to write what it saw) and parse its lines. */
  stop(): Promise<SeenRst[]>;
}

/** tcpdump on every interface of `ns` (`-i any -e`: direction and interface per packet), RSTs only. */
export async function rstCapture(ctx: Finishing, ns: string): Promise<RstCapture> {
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'any', '-e', '-nn', '-l', '-U', RST_FILTER], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackProcess(child);
  ctx.onTestFinished(() => { child.kill('SIGKILL'); });
  const out = lineReader(child, `tcpdump in ${ns}`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump in ${ns} did not start: ${out.stderr()}`)), 5_000);
    const check = () => { if (out.stderr().includes('listening on')) { clearTimeout(timer); resolve(); } };
    child.stderr!.on('data', check);
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`tcpdump in ${ns} exited: ${out.stderr()}`)); });
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300));
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGINT');
      await closed;
      return out.lines.flatMap((l) => {
        const m = LINE.exec(l);
        return m ? [{ iface: m[1], dir: m[2] as 'In' | 'Out', src: `${m[3]}:${m[4]}`, dst: `${m[5]}:${m[6]}`, flags: m[7] }] : [];
      });
    },
  };
}

const tuple = (from: string, fromPort: number, to: string, toPort: number): string => `${from}:${fromPort} > ${to}:${toPort}`;

/**
 * tcpdump's RSTs in one namespace against the tracer's events there, RST for RST. A RST leaving
 * on a device is one `sent` event; one arriving, one `received` or `ignored` event; one on lo
 * (seen once, as In) both. `notOurs` are RSTs the test's raw socket sent from this namespace:
 * they are on the wire but no part of this host's stack or firewall made them.
 * Returns what tcpdump saw that the tracer lacks (`missing`) and the reverse (`extra`).
 */
export function compareRsts(seen: SeenRst[], events: ResetEvent[], netns: number, notOurs: Injected[] = []): { missing: string[]; extra: string[] } {
  const expected: string[] = [];
  const skip = notOurs.map((i) => `sent ${i.src} > ${i.dst}`);
  for (const r of seen) {
    const pair = `${r.src} > ${r.dst}`;
    if (r.dir === 'Out' || r.iface === 'lo') expected.push(`sent ${pair}`);
    if (r.dir === 'In') expected.push(`in ${pair}`);
  }
  for (const s of skip) {
    const i = expected.indexOf(s);
    if (i >= 0) expected.splice(i, 1);
  }
  const got = events.filter((e) => e.netns === netns && e.kind !== 'abort').map((e) => {
    return e.kind === 'sent' ? `sent ${tuple(e.laddr, e.lport, e.raddr, e.rport)}` : `in ${tuple(e.raddr, e.rport, e.laddr, e.lport)}`;
  });
  const extra = [...got];
  const missing: string[] = [];
  for (const x of expected) {
    const i = extra.indexOf(x);
    if (i >= 0) extra.splice(i, 1);
    else missing.push(x);
  }
  return { missing, extra };
}
