// Network namespace harness for e2e tests: every test builds its own namespaces (unique per
// process, so vitest files running in parallel never collide) and tears them down in
// afterEach/afterAll, even when the test failed. Traffic only ever flows inside these namespaces.
//
//   afterEach(cleanup);
//   const ns = await createNetns('ka');            // lo is up, 127.0.0.1 and ::1 usable
//   const [a, b] = [await createNetns('a'), await createNetns('b')];
//   const link = await vethPair(a, b, { addrA: '10.213.1.1/24', addrB: '10.213.1.2/24' });
//   await nftDropAll(b);                           // silence b
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Kill the command after this long (default 10 s). */
  timeoutMs?: number;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
  /** Written to the command's stdin. */
  input?: string;
}

const namespaces = new Set<string>();
const processes = new Set<ChildProcess>();
let vethCounter = 0;

/** Run a command in the current (root) namespace, bounded in time. */
export function run(cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { timeoutMs = 10_000, check = true, input } = opts;
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd[0],
      cmd.slice(1),
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const res = { stdout: String(stdout), stderr: String(stderr), code };
        if (code !== 0 && check) {
          const why = err?.killed ? `killed after ${timeoutMs} ms` : `exit ${code}`;
          reject(new Error(`${cmd.join(' ')}: ${why}: ${res.stderr.trim() || res.stdout.trim()}`));
        } else {
          resolve(res);
        }
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Run a command inside namespace `ns` (`ip netns exec`). */
export function exec(ns: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', ns, ...cmd], opts);
}

/** A new namespace `PREFIX-PID-RANDOM` with loopback up; deleted by cleanup(). */
export async function createNetns(prefix = 'rst'): Promise<string> {
  const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  await run(['ip', 'netns', 'add', name]);
  namespaces.add(name);
  await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** Delete one namespace now (the kernel keeps it alive while processes or sockets hold it). */
export async function deleteNetns(ns: string): Promise<void> {
  await run(['ip', 'netns', 'del', ns]);
  namespaces.delete(ns);
}

export function netnsPath(ns: string): string {
  return `/run/netns/${ns}`;
}

/** The namespace's inode, as the tracer reports it in `netns`. */
export function netnsInode(ns: string): number {
  return statSync(netnsPath(ns)).ino;
}

/** Inode of the namespace this test process runs in. */
export function currentNetnsInode(): number {
  return statSync('/proc/self/ns/net').ino;
}

export async function sysctl(ns: string, key: string, value: string | number): Promise<void> {
  await exec(ns, ['sysctl', '-qw', `${key}=${value}`]);
}

export interface VethOptions {
  /** IPv4 address with prefix length, e.g. '10.213.1.1/24'. */
  addrA: string;
  addrB: string;
  /** Optional IPv6 addresses with prefix length, e.g. 'fd00:213:1::1/64' (added with nodad). */
  addr6A?: string;
  addr6B?: string;
  /** Interface names (default vNa / vNb); they only need to be unique inside their namespace. */
  ifA?: string;
  ifB?: string;
}

export interface VethPair {
  nsA: string;
  nsB: string;
  ifA: string;
  ifB: string;
  /** Addresses without prefix length, ready for connect=ADDR:PORT. */
  addrA: string;
  addrB: string;
  addr6A?: string;
  addr6B?: string;
}

const bare = (a: string) => a.split('/')[0];

/** A veth pair between two namespaces, addressed and up on both ends. */
export async function vethPair(nsA: string, nsB: string, o: VethOptions): Promise<VethPair> {
  const n = ++vethCounter;
  const ifA = o.ifA ?? `v${n}a`;
  const ifB = o.ifB ?? `v${n}b`;
  // Created inside nsA with its peer moved straight into nsB: no name ever lands in the root ns.
  await run(['ip', '-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  await run(['ip', '-n', nsA, 'addr', 'add', o.addrA, 'dev', ifA]);
  await run(['ip', '-n', nsB, 'addr', 'add', o.addrB, 'dev', ifB]);
  if (o.addr6A) await run(['ip', '-n', nsA, '-6', 'addr', 'add', o.addr6A, 'dev', ifA, 'nodad']);
  if (o.addr6B) await run(['ip', '-n', nsB, '-6', 'addr', 'add', o.addr6B, 'dev', ifB, 'nodad']);
  await run(['ip', '-n', nsA, 'link', 'set', ifA, 'up']);
  await run(['ip', '-n', nsB, 'link', 'set', ifB, 'up']);
  return {
    nsA, nsB, ifA, ifB,
    addrA: bare(o.addrA), addrB: bare(o.addrB),
    addr6A: o.addr6A && bare(o.addr6A), addr6B: o.addr6B && bare(o.addr6B),
  };
}

export async function linkDown(ns: string, ifname: string): Promise<void> {
  await run(['ip', '-n', ns, 'link', 'set', ifname, 'down']);
}

export async function linkUp(ns: string, ifname: string): Promise<void> {
  await run(['ip', '-n', ns, 'link', 'set', ifname, 'up']);
}

/** Load an nftables script (`nft -f -`) inside `ns`. */
export async function nft(ns: string, script: string): Promise<void> {
  await exec(ns, ['nft', '-f', '-'], { input: script });
}

/**
 * Drop every packet in and out of `ns` except on loopback (table `inet rstrace_test`): the
 * namespace goes silent, its sockets stay alive.
 */
export async function nftDropAll(ns: string): Promise<void> {
  await nft(ns, `table inet rstrace_test {
  chain input { type filter hook input priority -300; policy drop; iif "lo" accept; }
  chain output { type filter hook output priority -300; policy drop; oif "lo" accept; }
}
`);
}

/** Remove every nftables rule in `ns`. */
export async function nftFlush(ns: string): Promise<void> {
  await exec(ns, ['nft', 'flush', 'ruleset']);
}

export interface RouterTopology {
  client: string;
  router: string;
  server: string;
  clientAddr: string;
  serverAddr: string;
  clientAddr6?: string;
  serverAddr6?: string;
}

/**
 * client <-> router <-> server, forwarding on, default routes through the router. With
 * `unreachable` (default true) the router holds `unreachable` routes for the server's addresses,
 * so it answers packets to the server with ICMP host unreachable (ICMPv6 no route).
 */
export async function routerTopology(o: { v6?: boolean; unreachable?: boolean } = {}): Promise<RouterTopology> {
  const v6 = o.v6 ?? false;
  const client = await createNetns('cli');
  const router = await createNetns('rtr');
  const server = await createNetns('srv');
  await vethPair(client, router, {
    addrA: '10.213.1.2/24', addrB: '10.213.1.1/24',
    ...(v6 ? { addr6A: 'fd00:213:1::2/64', addr6B: 'fd00:213:1::1/64' } : {}),
    ifA: 'eth0', ifB: 'eth-cli',
  });
  await vethPair(server, router, {
    addrA: '10.213.2.2/24', addrB: '10.213.2.1/24',
    ...(v6 ? { addr6A: 'fd00:213:2::2/64', addr6B: 'fd00:213:2::1/64' } : {}),
    ifA: 'eth0', ifB: 'eth-srv',
  });
  await sysctl(router, 'net.ipv4.ip_forward', 1);
  await run(['ip', '-n', client, 'route', 'add', 'default', 'via', '10.213.1.1']);
  await run(['ip', '-n', server, 'route', 'add', 'default', 'via', '10.213.2.1']);
  if (v6) {
    await sysctl(router, 'net.ipv6.conf.all.forwarding', 1);
    await run(['ip', '-n', client, '-6', 'route', 'add', 'default', 'via', 'fd00:213:1::1']);
    await run(['ip', '-n', server, '-6', 'route', 'add', 'default', 'via', 'fd00:213:2::1']);
  }
  if (o.unreachable ?? true) {
    await run(['ip', '-n', router, 'route', 'add', 'unreachable', '10.213.2.2/32']);
    if (v6) await run(['ip', '-n', router, '-6', 'route', 'add', 'unreachable', 'fd00:213:2::2/128']);
  }
  return {
    client, router, server,
    clientAddr: '10.213.1.2', serverAddr: '10.213.2.2',
    ...(v6 ? { clientAddr6: 'fd00:213:1::2', serverAddr6: 'fd00:213:2::2' } : {}),
  };
}

/** Register a child process so that cleanup() kills it. */
export function trackProcess(child: ChildProcess): void {
  processes.add(child);
  child.once('exit', () => processes.delete(child));
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * tcpdump filter for TCP segments with RST set, IPv4 and IPv6 (libpcap's `tcp[]` only indexes
 * IPv4; for IPv6 without extension headers the TCP flags byte is ip6[40 + 13]).
 */
export const RST_FILTER =
  '((ip and tcp[tcpflags] & tcp-rst != 0) or (ip6 and ip6[6] = 6 and ip6[53] & 4 != 0))';

export interface Capture {
  /** Resolves with the packet lines once `count` packets were seen or the time ran out. */
  packets: Promise<string[]>;
  /** Stop now and return what was captured. */
  stop(): Promise<string[]>;
}

/**
 * tcpdump inside `ns` (on every interface by default) with a BPF filter such as
 * `${RST_FILTER} and src port 80`; resolves once tcpdump is listening.
 */
export async function capture(
  ns: string,
  filter: string,
  o: { count?: number; timeoutMs?: number; iface?: string } = {},
): Promise<Capture> {
  const { count = 1, timeoutMs = 10_000, iface = 'any' } = o;
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-nn', '-l', '-c', String(count), filter],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackProcess(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tcpdump in ${ns} did not start: ${err}`));
    }, 5_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`tcpdump in ${ns} exited: ${err}`));
    });
  });
  const lines = () => out.split('\n').filter((l) => l.trim() !== '');
  const stop = async () => {
    if (alive(child)) child.kill('SIGINT');
    const t = setTimeout(() => alive(child) && child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(t);
    return lines();
  };
  const timer = setTimeout(() => void stop(), timeoutMs);
  timer.unref();
  const packets = exited.then(() => {
    clearTimeout(timer);
    return lines();
  });
  return { packets, stop };
}

/** Kill every tracked process, then delete every namespace this process created. */
export async function cleanup(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of processes) {
    if (!alive(child)) continue;
    waits.push(new Promise((resolve) => {
      child.once('exit', resolve);
      setTimeout(resolve, 2_000);
    }));
    child.kill('SIGKILL');
  }
  await Promise.all(waits);
  processes.clear();
  for (const ns of [...namespaces]) {
    // Anything still running inside (a process the test started some other way) goes too.
    const pids = await run(['ip', 'netns', 'pids', ns], { check: false });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
    }
    await run(['ip', 'netns', 'del', ns], { check: false });
    namespaces.delete(ns);
  }
}

/** The namespaces still registered (for tests of the harness itself). */
export function liveNamespaces(): string[] {
  return [...namespaces];
}

// Last resort when the worker exits without running afterAll (a crash, a timeout).
process.once('exit', () => {
  for (const child of processes) if (alive(child)) child.kill('SIGKILL');
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { timeout: 5_000 });
});

/**
 * The same teardown as an AsyncDisposable, for `await using scope = netnsScope();` in a test body
 * (afterEach(cleanup) remains the simplest way to cover failing tests).
 */
export function netnsScope(): AsyncDisposable & { cleanup: () => Promise<void> } {
  return { cleanup, [Symbol.asyncDispose]: cleanup };
}
