// Per-test scope for tracer e2e tests that may run concurrently (describe.concurrent): every
// namespace, peer, tracer, child process and bpffs pin a test makes is registered on its own Scope
// and torn down by scope.dispose() (hook it with the test context's onTestFinished, so it runs on
// failure too). netns.ts cleanup() and stopAllTracers() stay the global backstop in afterAll.
//
//   it('...', async (ctx) => {
//     const s = scope(ctx);
//     const ns = await s.netns('x');
//     const t = await s.tracer(['--netns', String(netnsInode(ns))]);
//     const { srv, port } = await s.listener(ns, '127.0.0.1', ['accept', 'wait']);
//   });
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import {
  createNetns, deleteNetns, nft, routerTopology, run, sysctl, vethPair, type Capture, type RouterTopology, type VethPair,
} from './netns.js';
import { spawnPeer, type Peer, type PeerOptions } from './peer.js';
import { startTracer, type RunningTracer } from './tracer.js';

export const endpoint = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** The port of an `ADDR:PORT` / `[ADDR]:PORT` line. */
export const portOf = (addr: string): number => Number(addr.slice(addr.lastIndexOf(':') + 1));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The loopback of each family: rstpeer's family word, the JSON event's, and the address. */
export const LOOPBACKS = [
  { peer: 'tcp4', family: 'ipv4', host: '127.0.0.1' },
  { peer: 'tcp6', family: 'ipv6', host: '::1' },
] as const;

export const peerFamily = (host: string): 'tcp4' | 'tcp6' => (host.includes(':') ? 'tcp6' : 'tcp4');

/** Stop a capture after `settleMs` and return its packet lines (for "no RST" assertions). */
export async function settle(cap: Capture, settleMs = 300): Promise<string[]> {
  await sleep(settleMs);
  return cap.stop();
}

/** Whether a link still exists in `ns` (tells whether the namespace at its other end lives). */
export async function linkExists(ns: string, ifname: string): Promise<boolean> {
  return (await run(['ip', '-n', ns, 'link', 'show', ifname], { check: false })).code === 0;
}

export async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await cond()) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

export interface Spawned {
  pid: number;
  /** exit code (or -1 when killed), stdout and stderr */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

export class Scope {
  private readonly namespaces: string[] = [];
  private readonly peers: Peer[] = [];
  private readonly tracers: RunningTracer[] = [];
  private readonly children: { pid: number; done: Promise<unknown> }[] = [];
  private readonly pins: string[] = [];

  async netns(prefix: string): Promise<string> {
    const ns = await createNetns(prefix);
    this.namespaces.push(ns);
    return ns;
  }

  /** routerTopology() whose three namespaces belong to this scope. */
  async topology(o: { v6?: boolean; unreachable?: boolean } = {}): Promise<RouterTopology> {
    const t = await routerTopology(o);
    this.namespaces.push(t.client, t.router, t.server);
    return t;
  }

  /** Two namespaces of this scope joined by a veth: a (10.213.1.1) and b (10.213.1.2). */
  async pair(): Promise<{ a: string; b: string; link: VethPair }> {
    const a = await this.netns('a');
    const b = await this.netns('b');
    const link = await vethPair(a, b, { addrA: '10.213.1.1/24', addrB: '10.213.1.2/24' });
    return { a, b, link };
  }

  /** A port on `host` in `ns` held by a bound socket that never listens: nothing else takes it meanwhile. */
  async closedPort(ns: string, host: string): Promise<number> {
    const holder = this.peer([peerFamily(host), `bind=${endpoint(host, 0)}`, 'port', 'wait'], { netns: ns });
    return Number(await holder.waitLine('port'));
  }

  /**
   * Code 14's stage: with tcp_abort_on_overflow=1, a listener (backlog 1) on 127.0.0.1 whose accept
   * queue two fillers have filled while an nft rule (table inet rstrace_test) kept the victim's
   * handshake in SYN_RECV on the listener's side; the victim is connected on its own side and
   * runs `victimSteps` (after 'send=5') when sent a line. Flush the rule and send the victim a line
   * to complete its handshake into the full queue.
   */
  async overflowingListener(ns: string, victimSteps: string[]) {
    await sysctl(ns, 'net.ipv4.tcp_abort_on_overflow', 1);
    // listen(1): the accept queue holds 2 (it is full when its length exceeds the backlog).
    const { srv, pid: listenerPid, port } = await this.listener(ns, '127.0.0.1', ['wait'], { backlog: 1 });
    const victim = this.peer(['tcp4', 'bind=127.0.0.1:0', 'port', 'wait', `connect=127.0.0.1:${port}`, 'wait', 'send=5', ...victimSteps], { netns: ns });
    const vport = Number(await victim.waitLine('port'));
    // The victim's SYN gets through while the queue has room, but none of its later segments
    // does, so its request socket stays in SYN_RECV while two others fill the accept queue.
    await nft(ns, `table inet rstrace_test {
  chain input { type filter hook input priority -300; policy accept;
    tcp sport ${vport} tcp dport ${port} tcp flags & syn == 0 drop; }
}
`);
    victim.send();
    await victim.waitLine('connected'); // ESTABLISHED on its side; its ACK was dropped
    for (let i = 0; i < 2; i++) {
      const filler = this.peer(['tcp4', `connect=127.0.0.1:${port}`, 'wait'], { netns: ns });
      await filler.waitLine('connected');
    }
    return { srv, listenerPid, port, victim, vport };
  }

  peer(steps: string[], opts: PeerOptions = {}): Peer {
    const p = spawnPeer(steps, opts);
    this.peers.push(p);
    return p;
  }

  async tracer(args: string[]): Promise<RunningTracer> {
    const t = await startTracer(args);
    this.tracers.push(t);
    return t;
  }

  /** A server on HOST:0 in `ns` that prints pid and port, then runs `after`. */
  async listener(ns: string, host: string, after: string[], o: { family?: 'tcp4' | 'tcp6'; backlog?: number } = {}) {
    const family = o.family ?? peerFamily(host);
    const srv = this.peer([family, `bind=${endpoint(host, 0)}`, `listen=${o.backlog ?? 8}`, 'pid', 'port', ...after], { netns: ns });
    const pid = Number(await srv.waitLine('pid'));
    const port = Number(await srv.waitLine('port'));
    return { srv, pid, port };
  }

  /**
   * An established connection in `ns`: the server runs `serverSteps` after accept, the client
   * (a separate process, in `clientNetns` when given) `clientPre` before its connect and
   * `clientSteps` after. Both pids are read from the peers.
   */
  async connection(ns: string, host: string, serverSteps: string[], clientSteps: string[], o: { clientNetns?: string; connectHost?: string; clientPre?: string[] } = {}) {
    const family = peerFamily(host);
    const { srv, pid: serverPid, port } = await this.listener(ns, host, ['accept', ...serverSteps]);
    const cli = this.peer([family, 'pid', ...(o.clientPre ?? []), `connect=${endpoint(o.connectHost ?? host, port)}`, ...clientSteps], { netns: o.clientNetns ?? ns });
    const clientPid = Number(await cli.waitLine('pid'));
    const local = await cli.waitLine(['connected', 'error', 'timeout']);
    if (!/:\d+$/.test(local)) throw new Error(`connect failed: ${local}`);
    await srv.waitLine('accepted');
    return { srv, cli, port, serverPid, clientPid, clientPort: portOf(local) };
  }

  /** Any command, in `ns` when given (`ip netns exec` execs in place: pid is the command's). */
  spawn(cmd: string[], o: { netns?: string; timeoutMs?: number } = {}): Spawned {
    const argv = o.netns ? ['ip', 'netns', 'exec', o.netns, ...cmd] : cmd;
    return this.spawnArgv(argv, o.timeoutMs);
  }

  /** A command exactly as given (e.g. `nsenter --net=... cmd`, which also execs in place). */
  spawnArgv(argv: string[], timeoutMs = 10_000): Spawned {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        resolve({ code: -1, stdout, stderr: stderr + String(e) });
      });
    });
    if (child.pid === undefined) throw new Error(`cannot start ${argv.join(' ')}`);
    this.children.push({ pid: child.pid, done });
    return { pid: child.pid, done };
  }

  /** Remember a bpffs pin to remove at the end. */
  pin(path: string): string {
    this.pins.push(path);
    return path;
  }

  private dumped = false;

  dumpEvents(title: string): void {
    if (this.dumped) return;
    this.dumped = true;
    for (const t of this.tracers) {
      process.stderr.write(`--- events of rstrace trace ${t.child.spawnargs.slice(2).join(' ')} (${title}):\n`);
      for (const e of t.events) process.stderr.write(`${JSON.stringify(e)}\n`);
      process.stderr.write(`--- its stderr: ${t.stderr().trim()}\n`);
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.tracers.map((t) => t.stop()));
    for (const p of this.peers) p.kill('SIGKILL');
    for (const c of this.children) {
      try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    const bounded = (p: Promise<unknown>) => Promise.race([p, sleep(3_000)]);
    await Promise.all([...this.peers.map((p) => bounded(p.exited)), ...this.children.map((c) => bounded(c.done))]);
    for (const ns of this.namespaces) {
      const pids = await run(['ip', 'netns', 'pids', ns], { check: false });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
      try { await deleteNetns(ns); } catch { /* already gone; cleanup() retries */ }
    }
    for (const pin of this.pins) if (existsSync(pin)) rmSync(pin, { force: true });
  }
}

interface ScopeContext {
  onTestFinished: (fn: () => Promise<void>) => void;
  onTestFailed?: (fn: () => void) => void;
  task?: { name: string };
}

/**
 * A Scope disposed when the test finishes, passed or failed; on failure every event its tracers
 * printed goes to stderr (the exact JSON, for a bug report); with RSTRACE_TEST_EVENTS=1 always.
 */
export function scope(ctx: ScopeContext): Scope {
  const s = new Scope();
  ctx.onTestFailed?.(() => s.dumpEvents(ctx.task?.name ?? ''));
  ctx.onTestFinished(async () => {
    if (process.env.RSTRACE_TEST_EVENTS) s.dumpEvents(ctx.task?.name ?? '');
    await s.dispose();
  });
  return s;
}
