/**
 * One end-to-end test per reset code with a Linux analogue: the real CLI (`rstrace trace --json`),
 * real resets between separate rstpeer processes, each test inside network namespaces it creates
 * and removes itself. Every tracer is filtered to the test's own namespace (and port), so tests
 * and test files running at the same time never see each other's resets. The assertions are on
 * what the tracer reports: code, key, kind, kernel reason, state, owner pid/tid/comm, attribution,
 * unread/unsent bytes, probes, and the actor for resets done by another process.
 *
 * Each test owns a Scope (test/helpers/scenarios.ts) disposed when it finishes, passed or failed,
 * so the slow timer-driven cases can run concurrently.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import type { ResetEvent } from '../../src/event.js';
import { cleanup, netnsInode, netnsPath, nft, nftDropAll, nftFlush, sysctl, vethPair } from '../helpers/netns.js';
import { endpoint, portOf, scope, sleep, type Scope } from '../helpers/scenarios.js';
import { stopAllTracers, type RunningTracer } from '../helpers/tracer.js';

afterAll(async () => {
  await stopAllTracers();
  await cleanup();
});

const FAMILIES = [['ipv4', '127.0.0.1'], ['ipv6', '::1']] as const;

/** A tracer that only sees namespace `ns` (and the given ports). */
async function tracerIn(s: Scope, ns: string, ...ports: number[]): Promise<RunningTracer> {
  return s.tracer(['--netns', String(netnsInode(ns)), ...(ports.length ? ['--port', ports.join(',')] : [])]);
}

const sentFrom = (lport: number, rport: number) => (e: ResetEvent) => e.kind === 'sent' && e.lport === lport && e.rport === rport;
const receivedOn = (lport: number, rport: number) => (e: ResetEvent) => e.kind === 'received' && e.lport === lport && e.rport === rport;
const abortOf = (lport: number, rport: number) => (e: ResetEvent) => e.kind === 'abort' && e.lport === lport && e.rport === rport;

/** Two namespaces joined by a veth: a (10.213.1.1) and b (10.213.1.2). */
async function pair(s: Scope) {
  const a = await s.netns('a');
  const b = await s.netns('b');
  const link = await vethPair(a, b, { addrA: '10.213.1.1/24', addrB: '10.213.1.2/24' });
  return { a, b, link };
}

/** The received reset on the other end of a loopback connection: processed in the sender's task. */
function expectPeerReceived(expect: ExpectStatic, e: ResetEvent, pid: number, state = 'ESTABLISHED') {
  expect(e).toMatchObject({ kind: 'received', code: 0, codeKey: 'remote-reset', reason: null, state, pid, comm: 'rstpeer', attribution: 'owner' });
}

describe('codes 11 and 0: connect() to a closed port', () => {
  for (const [family, host] of FAMILIES) {
    it(`${family}: sent 11 (NO_SOCKET, no owner) and received 0 in SYN_SENT on the client`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns('c11');
      const holder = s.peer([family === 'ipv4' ? 'tcp4' : 'tcp6', `bind=${endpoint(host, 0)}`, 'port', 'wait'], { netns: ns });
      const port = Number(await holder.waitLine('port'));
      const t = await tracerIn(s, ns, port);
      const cli = s.peer([family === 'ipv4' ? 'tcp4' : 'tcp6', 'pid', `connect=${endpoint(host, port)}`, 'sockname'], { netns: ns });
      const clientPid = Number(await cli.waitLine('pid'));
      expect(await cli.waitLine(['connected', 'error'])).toBe('ECONNREFUSED');
      const clientPort = portOf(await cli.waitLine('sockname'));
      const sent = await t.waitFor(sentFrom(port, clientPort));
      const recv = await t.waitFor(receivedOn(clientPort, port));
      expect(sent).toMatchObject({
        kind: 'sent', code: 11, codeKey: 'syn-unknown-port', reason: 'NO_SOCKET', family, laddr: host, raddr: host,
        state: null, pid: null, tid: null, comm: null, attribution: 'none', netns: netnsInode(ns),
      });
      expect(recv).toMatchObject({
        kind: 'received', code: 0, codeKey: 'remote-reset', family, state: 'SYN_SENT', pid: clientPid, comm: 'rstpeer',
        netns: netnsInode(ns),
      });
      // Processed in softirq on the client's own task: either way the client is named.
      expect(['owner', 'context']).toContain(recv.attribution);
    });
  }
});

describe('code 6: application abort', () => {
  for (const [family, host] of FAMILIES) {
    it(`${family}: linger-0 close() on the server: sent 6 in ESTABLISHED by the server, received 0 by the client`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns('c6');
      const c = await s.connection(ns, host, ['wait', 'linger0', 'close', 'wait'], ['wait-error']);
      const t = await tracerIn(s, ns, c.port);
      await c.srv.waitLine('waiting');
      c.srv.send();
      await c.srv.waitLine('closed');
      expect(await c.cli.waitLine('error')).toBe('ECONNRESET');
      const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
      const recv = await t.waitFor(receivedOn(c.clientPort, c.port));
      expect(sent).toMatchObject({
        kind: 'sent', code: 6, codeKey: 'application-abort', reason: 'TCP_STATE', family, state: 'ESTABLISHED',
        pid: c.serverPid, tid: c.serverPid, comm: 'rstpeer', attribution: 'context',
      });
      expectPeerReceived(expect, recv, c.clientPid);
    });
  }

  it('connect(AF_UNSPEC) on an established client: sent 6, explained as AF_UNSPEC', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('unspec');
    const c = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait', 'unspec']);
    const t = await tracerIn(s, ns, c.port);
    c.cli.send();
    expect(await c.cli.waitLine(['unspec', 'error'])).toBe('0');
    expect(await c.srv.waitLine(['eof', 'error'])).toBe('ECONNRESET');
    const sent = await t.waitFor(sentFrom(c.clientPort, c.port));
    expect(sent).toMatchObject({
      code: 6, codeKey: 'application-abort', reason: 'TCP_STATE', state: 'ESTABLISHED',
      pid: c.clientPid, tid: c.clientPid, comm: 'rstpeer', attribution: 'context',
    });
    expect(sent.explanation).toMatch(/AF_UNSPEC/);
    expectPeerReceived(expect, await t.waitFor(receivedOn(c.port, c.clientPort)), c.serverPid);
  });

  it('linger-0 close() in a second thread: tid is that thread, pid the process', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('thr');
    const c = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait', 'linger0', 'thread:close']);
    const t = await tracerIn(s, ns, c.port);
    c.cli.send();
    const closeTid = Number(await c.cli.waitLine('tid'));
    await c.cli.waitLine('closed');
    expect(closeTid).not.toBe(c.clientPid);
    const sent = await t.waitFor(sentFrom(c.clientPort, c.port));
    expect(sent).toMatchObject({
      code: 6, codeKey: 'application-abort', reason: 'TCP_STATE', state: 'ESTABLISHED',
      pid: c.clientPid, tid: closeTid, comm: 'rstpeer', attribution: 'context',
    });
  });

  it('TCP_LINGER2=-1, close() in FIN_WAIT2: sent 6 with TCP_ABORT_ON_LINGER', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('lng2');
    const c = await s.connection(ns, '127.0.0.1', ['recv', 'wait'], ['linger2=-1', 'shutdown-wr', 'sleep=100', 'state', 'wait', 'close']);
    expect(await c.srv.waitLine('recv')).toBe('0');
    expect(await c.cli.waitLine('state')).toBe('FIN_WAIT2');
    const t = await tracerIn(s, ns, c.port);
    c.cli.send();
    await c.cli.waitLine('closed');
    const sent = await t.waitFor(sentFrom(c.clientPort, c.port));
    expect(sent).toMatchObject({
      code: 6, codeKey: 'application-abort', reason: 'TCP_ABORT_ON_LINGER', state: 'FIN_WAIT2',
      pid: c.clientPid, tid: c.clientPid, comm: 'rstpeer', attribution: 'context',
    });
  });

  it('closing a listener with a connection in its accept queue: sent 6 named after the listener process', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('lcl');
    const { srv, pid: listenerPid, port } = await s.listener(ns, '127.0.0.1', ['wait', 'close', 'wait']);
    const t = await tracerIn(s, ns, port);
    const cli = s.peer(['tcp4', 'pid', `connect=127.0.0.1:${port}`, 'recv'], { netns: ns });
    const clientPid = Number(await cli.waitLine('pid'));
    const clientPort = portOf(await cli.waitLine('connected')); // queued, never accepted
    srv.send();
    await srv.waitLine('closed');
    expect(await cli.waitLine(['recv', 'error'])).toBe('ECONNRESET');
    const sent = await t.waitFor(sentFrom(port, clientPort));
    expect(sent).toMatchObject({
      code: 6, codeKey: 'application-abort', reason: 'TCP_STATE', state: 'ESTABLISHED',
      pid: listenerPid, comm: 'rstpeer', attribution: 'context',
    });
    expectPeerReceived(expect, await t.waitFor(receivedOn(clientPort, port)), clientPid);
  });
});

describe('code 16: close() with unread data', () => {
  for (const [family, host] of FAMILIES) {
    it(`${family}: sent 16 with the exact unread byte count, named after the closing server`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns('c16');
      const N = 1234;
      const c = await s.connection(ns, host, ['wait', 'unread', 'close', 'wait'], [`send=${N}`, 'recv-all']);
      const t = await tracerIn(s, ns, c.port);
      expect(await c.cli.waitLine('sent')).toBe(String(N));
      await c.srv.waitLine('waiting');
      await sleep(50);
      c.srv.send();
      expect(await c.srv.waitLine('unread')).toBe(String(N));
      expect(await c.cli.waitLine(['eof', 'error'])).toBe('ECONNRESET');
      const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
      expect(sent).toMatchObject({
        kind: 'sent', code: 16, codeKey: 'closed-with-data', reason: 'TCP_ABORT_ON_CLOSE', family, state: 'ESTABLISHED',
        unread: N, pid: c.serverPid, tid: c.serverPid, comm: 'rstpeer', attribution: 'context',
      });
      expectPeerReceived(expect, await t.waitFor(receivedOn(c.clientPort, c.port)), c.clientPid);
    });
  }
});

describe('code 1: segment for a connection the application already closed', () => {
  it('server shutdown()+close(), client sends later: sent 1 from TIME_WAIT, named after the server', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c1');
    const c = await s.connection(ns, '127.0.0.1', ['shutdown-wr', 'close', 'wait'], ['recv', 'wait', 'send=10', 'sleep=100', 'sockerr']);
    expect(await c.cli.waitLine('recv')).toBe('0');
    await c.srv.waitLine('closed');
    const t = await tracerIn(s, ns, c.port);
    c.cli.send();
    expect(await c.cli.waitLine('sockerr')).toBe('EPIPE');
    const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
    expect(sent).toMatchObject({
      kind: 'sent', code: 1, codeKey: 'unknown-socket-pair', reason: 'TCP_TIMEWAIT_SOCKET', state: 'TIME_WAIT',
      pid: c.serverPid, comm: 'rstpeer', attribution: 'owner',
    });
    expectPeerReceived(expect, await t.waitFor(receivedOn(c.clientPort, c.port)), c.clientPid, 'CLOSE_WAIT');
  });
});

describe('code 13: management reset', () => {
  it('ss -K kills the client: sent 13 named after the client, ss reported as the actor', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('ssk');
    const c = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait-error=5000']);
    const t = await tracerIn(s, ns, c.port);
    const ss = s.spawn(['ss', '-K', '-t', 'dst', '127.0.0.1', 'dport', '=', `:${c.port}`], { netns: ns });
    const res = await ss.done;
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`127.0.0.1:${c.port}`);
    expect(await c.cli.waitLine(['error', 'hup', 'timeout'])).toBe('ECONNABORTED');
    const sent = await t.waitFor(sentFrom(c.clientPort, c.port));
    expect(sent).toMatchObject({
      kind: 'sent', code: 13, codeKey: 'management-reset', reason: 'TCP_STATE', state: 'ESTABLISHED',
      pid: c.clientPid, comm: 'rstpeer', actorPid: ss.pid, actorComm: 'ss',
    });
    expect(['owner', 'proc']).toContain(sent.attribution);
    expectPeerReceived(expect, await t.waitFor(receivedOn(c.port, c.clientPort)), c.serverPid);
  });
});

describe('code 8: unexpected destroy', () => {
  it('bpf_sock_destroy() from a BPF TCP iterator run by cat: sent 8 on one end, received 0 on the other', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c8');
    const pin = s.pin(`/sys/fs/bpf/rstrace-codes-${process.pid}-${randomBytes(3).toString('hex')}`);
    const pinned = await s.spawnArgv(['bpftool', 'iter', 'pin', 'build/sock_destroy.bpf.o', pin]).done;
    expect(pinned.code, pinned.stderr).toBe(0);
    const srv = s.peer(['tcp4', 'bind=127.0.0.1:4242', 'listen=8', 'pid', 'accept', 'wait-error=5000'], { netns: ns });
    const serverPid = Number(await srv.waitLine('pid'));
    const t = await tracerIn(s, ns);
    const cli = s.peer(['tcp4', 'pid', 'connect=127.0.0.1:4242', 'wait-error=5000'], { netns: ns });
    const clientPid = Number(await cli.waitLine('pid'));
    const clientPort = portOf(await cli.waitLine('connected'));
    await srv.waitLine('accepted');
    const cat = s.spawnArgv(['nsenter', `--net=${netnsPath(ns)}`, 'cat', pin]);
    expect((await cat.done).code).toBe(0);
    const sent = await t.waitFor((e) => e.kind === 'sent' && e.code === 8);
    expect(sent).toMatchObject({
      code: 8, codeKey: 'unexpected-destroy', reason: 'TCP_STATE', state: 'ESTABLISHED', comm: 'rstpeer',
      actorComm: 'cat', actorPid: cat.pid,
    });
    expect(['owner', 'proc']).toContain(sent.attribution);
    const serverEnd = sent.lport === 4242;
    expect(sent).toMatchObject(serverEnd ? { lport: 4242, rport: clientPort, pid: serverPid } : { lport: clientPort, rport: 4242, pid: clientPid });
    const recv = await t.waitFor((e) => e.kind === 'received');
    expect(recv).toMatchObject(serverEnd
      ? { lport: clientPort, rport: 4242, pid: clientPid }
      : { lport: 4242, rport: clientPort, pid: serverPid });
    expectPeerReceived(expect, recv, recv.pid!);
  });
});

describe('code 14: accept queue overflow with tcp_abort_on_overflow=1', () => {
  it('the listener answers a handshake completed into a full queue with sent 14, named after the listener process', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('ovf');
    await sysctl(ns, 'net.ipv4.tcp_abort_on_overflow', 1);
    const { pid: listenerPid, port } = await s.listener(ns, '127.0.0.1', ['wait'], { backlog: 1 });
    const victim = s.peer(['tcp4', 'bind=127.0.0.1:0', 'port', 'wait', `connect=127.0.0.1:${port}`, 'wait', 'send=5', 'recv'], { netns: ns });
    const vport = Number(await victim.waitLine('port'));
    await nft(ns, `table inet rstrace_test {
  chain input { type filter hook input priority -300; policy accept;
    tcp sport ${vport} tcp dport ${port} tcp flags & syn == 0 drop; }
}
`);
    const t = await tracerIn(s, ns, port);
    victim.send();
    await victim.waitLine('connected');
    for (let i = 0; i < 2; i++) {
      const filler = s.peer(['tcp4', `connect=127.0.0.1:${port}`, 'wait'], { netns: ns });
      await filler.waitLine('connected');
    }
    await nftFlush(ns);
    victim.send();
    expect(await victim.waitLine('sent')).toBe('5');
    expect(await victim.waitLine(['recv', 'error', 'timeout'])).toBe('ECONNRESET');
    const sent = await t.waitFor(sentFrom(port, vport));
    expect(sent).toMatchObject({
      kind: 'sent', code: 14, codeKey: 'max-connections', reason: 'INVALID_SYN', state: 'LISTEN',
      pid: listenerPid, comm: 'rstpeer', attribution: 'owner',
    });
  });
});

describe('a connection opened before the tracer started', () => {
  it('linger-0 close() by the server: both ends still named after their processes', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('pre');
    const c = await s.connection(ns, '127.0.0.1', ['wait', 'linger0', 'close', 'wait'], ['wait-error']);
    await c.srv.waitLine('waiting');
    const t = await tracerIn(s, ns, c.port); // only now
    c.srv.send();
    expect(await c.cli.waitLine('error')).toBe('ECONNRESET');
    const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
    expect(sent).toMatchObject({ code: 6, state: 'ESTABLISHED', pid: c.serverPid, comm: 'rstpeer' });
    expect(['context', 'proc']).toContain(sent.attribution);
    const recv = await t.waitFor(receivedOn(c.clientPort, c.port));
    expect(recv).toMatchObject({ code: 0, state: 'ESTABLISHED', pid: c.clientPid, comm: 'rstpeer' });
    expect(['owner', 'proc']).toContain(recv.attribution);
  });

  it('close() with unread data by the server: sent 16 with the exact count, named after the server', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('pre16');
    const c = await s.connection(ns, '127.0.0.1', ['wait', 'close', 'wait'], ['send=777', 'recv-all']);
    expect(await c.cli.waitLine('sent')).toBe('777');
    await c.srv.waitLine('waiting');
    const t = await tracerIn(s, ns, c.port);
    c.srv.send();
    expect(await c.cli.waitLine(['eof', 'error'])).toBe('ECONNRESET');
    const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
    expect(sent).toMatchObject({ code: 16, state: 'ESTABLISHED', unread: 777, pid: c.serverPid, comm: 'rstpeer' });
    expect(['context', 'proc']).toContain(sent.attribution);
  });
});

// Timer- and softirq-driven aborts take seconds each: run them side by side.
describe.concurrent('timer and ICMP driven resets', () => {
  it('17: keepalive 1,1,2 across a veth, peer silenced: sent 17 with 2 probes, named after the client', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const { a, b, link } = await pair(s);
    const c = await s.connection(b, link.addrB, ['wait'], ['wait-error=10000'], { clientNetns: a, clientPre: ['keepalive=1,1,2'] });
    const t = await tracerIn(s, a, c.port);
    await nftDropAll(b);
    expect(await c.cli.waitLine(['error', 'hup', 'timeout'], 10_000)).toBe('ETIMEDOUT');
    const sent = await t.waitFor(sentFrom(c.clientPort, c.port));
    expect(sent).toMatchObject({
      kind: 'sent', code: 17, codeKey: 'keepalive-limit', reason: 'TCP_KEEPALIVE_TIMEOUT', probes: 2, state: 'ESTABLISHED',
      pid: c.clientPid, comm: 'rstpeer', attribution: 'owner', netns: netnsInode(a),
    });
  }, 20_000);

  it('15: TCP_SYNCNT=1 to a silent namespace: abort 15 in SYN_SENT, named after the client', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const { a, b, link } = await pair(s);
    await nftDropAll(b);
    const t = await tracerIn(s, a, 5000);
    const cli = s.peer(['tcp4', 'pid', 'syncnt=1', 'bind=0.0.0.0:0', 'port', `connect=${link.addrB}:5000`], { netns: a });
    const clientPid = Number(await cli.waitLine('pid'));
    const clientPort = Number(await cli.waitLine('port'));
    expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe('ETIMEDOUT');
    const ab = await t.waitFor(abortOf(clientPort, 5000));
    expect(ab).toMatchObject({
      kind: 'abort', code: 15, codeKey: 'syn-timeout', state: 'SYN_SENT', pid: clientPid, comm: 'rstpeer', attribution: 'owner',
    });
  }, 20_000);

  for (const v6 of [false, true]) {
    it(`9: ${v6 ? 'ICMPv6 no route (ENETUNREACH)' : 'ICMP host unreachable (EHOSTUNREACH)'} from a router: abort 9 in SYN_SENT, named after the client`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const topo = await s.topology({ v6 });
      const t = await tracerIn(s, topo.client, 5000);
      const dst = v6 ? `[${topo.serverAddr6}]:5000` : `${topo.serverAddr}:5000`;
      const cli = s.peer([v6 ? 'tcp6' : 'tcp4', 'pid', v6 ? 'bind=[::]:0' : 'bind=0.0.0.0:0', 'port', `connect=${dst}`], { netns: topo.client });
      const clientPid = Number(await cli.waitLine('pid'));
      const clientPort = Number(await cli.waitLine('port'));
      expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe(v6 ? 'ENETUNREACH' : 'EHOSTUNREACH');
      const ab = await t.waitFor(abortOf(clientPort, 5000));
      expect(ab).toMatchObject({
        kind: 'abort', code: 9, codeKey: 'icmp-unreachable', state: 'SYN_SENT', pid: clientPid, comm: 'rstpeer',
        family: v6 ? 'ipv6' : 'ipv4',
      });
      expect(['owner', 'context']).toContain(ab.attribution);
      expect(ab.explanation).toMatch(v6 ? /ENETUNREACH/ : /EHOSTUNREACH/);
    }, 20_000);
  }

  it('18: TCP_USER_TIMEOUT=1000, peer silenced, write: abort 18 with the unsent bytes, and no 17 or 10', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const { a, b, link } = await pair(s);
    const c = await s.connection(b, link.addrB, ['wait'], ['wait', 'send=100', 'unsent', 'wait-error=10000'],
      { clientNetns: a, clientPre: ['user-timeout=1000'] });
    const t = await tracerIn(s, a, c.port);
    await nftDropAll(b);
    c.cli.send();
    expect(await c.cli.waitLine('unsent')).toBe('100');
    expect(await c.cli.waitLine(['error', 'hup', 'timeout'])).toBe('ETIMEDOUT');
    const ab = await t.waitFor(abortOf(c.clientPort, c.port));
    expect(ab).toMatchObject({
      kind: 'abort', code: 18, codeKey: 'retransmit-timeout', state: 'ESTABLISHED', unsent: 100,
      pid: c.clientPid, comm: 'rstpeer', attribution: 'owner',
    });
    await sleep(300);
    const wrong = t.events.filter((e) => e.lport === c.clientPort && e.kind === 'sent' && (e.code === 17 || e.code === 10));
    expect(wrong).toEqual([]);
  }, 20_000);
});
