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
import { cleanup, netnsInode, netnsPath, nft, nftDropAll, nftFlush } from '../helpers/netns.js';
import { endpoint, LOOPBACKS, portOf, scope, sleep, type Scope } from '../helpers/scenarios.js';
import { stopAllTracers, type RunningTracer } from '../helpers/tracer.js';

afterAll(async () => {
  await stopAllTracers();
  await cleanup();
});

/** A tracer that only sees namespace `ns` (and the given ports). */
async function tracerIn(s: Scope, ns: string, ...ports: number[]): Promise<RunningTracer> {
  return s.tracer(['--netns', String(netnsInode(ns)), ...(ports.length ? ['--port', ports.join(',')] : [])]);
}

const sentFrom = (lport: number, rport: number) => (e: ResetEvent) => e.kind === 'sent' && e.lport === lport && e.rport === rport;
const receivedOn = (lport: number, rport: number) => (e: ResetEvent) => e.kind === 'received' && e.lport === lport && e.rport === rport;
const abortOf = (lport: number, rport: number) => (e: ResetEvent) => e.kind === 'abort' && e.lport === lport && e.rport === rport;

/** The received reset on the other end of a loopback connection: processed in the sender's task. */
function expectPeerReceived(expect: ExpectStatic, e: ResetEvent, pid: number, state = 'ESTABLISHED') {
  expect(e).toMatchObject({ kind: 'received', code: 0, codeKey: 'remote-reset', reason: null, state, pid, comm: 'rstpeer', attribution: 'owner' });
}

describe('codes 11 and 0: connect() to a closed port', () => {
  for (const { peer, family, host } of LOOPBACKS) {
    it(`${family}: sent 11 (NO_SOCKET, no owner) and received 0 in SYN_SENT on the client`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns('c11');
      const t = await tracerIn(s, ns);
      const port = await s.closedPort(ns, host);
      const cli = s.peer([peer, 'pid', `connect=${endpoint(host, port)}`, 'sockname'], { netns: ns });
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
        netns: netnsInode(ns), attribution: 'context', tid: clientPid,
      });
      // (The RST reaches the client's socket while connect() holds it: it is processed from the
      // socket backlog by the client's own task, so the context is the owner.)
    });
  }
});

describe('code 6: application abort', () => {
  for (const { family, host } of LOOPBACKS) {
    it(`${family}: linger-0 close() on the server: sent 6 in ESTABLISHED by the server, received 0 by the client`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns('c6');
      const t = await tracerIn(s, ns);
      const c = await s.connection(ns, host, ['wait', 'linger0', 'close', 'wait'], ['wait-error']);
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
    const t = await tracerIn(s, ns);
    const c = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait', 'unspec']);
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
    const t = await tracerIn(s, ns);
    const c = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait', 'linger0', 'thread:close']);
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
    const t = await tracerIn(s, ns);
    const c = await s.connection(ns, '127.0.0.1', ['recv', 'wait'], ['linger2=-1', 'shutdown-wr', 'sleep=100', 'state', 'wait', 'close']);
    expect(await c.srv.waitLine('recv')).toBe('0');
    expect(await c.cli.waitLine('state')).toBe('FIN_WAIT2');
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
    const t = await tracerIn(s, ns);
    const { srv, pid: listenerPid, port } = await s.listener(ns, '127.0.0.1', ['wait', 'close', 'wait']);
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
  for (const { family, host } of LOOPBACKS) {
    it(`${family}: sent 16 with the exact unread byte count, named after the closing server`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns('c16');
      const t = await tracerIn(s, ns);
      const N = 1234;
      const c = await s.connection(ns, host, ['wait', 'unread', 'close', 'wait'], [`send=${N}`, 'recv-all']);
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
  it('server shutdown()+close(), its end reaches the TIME_WAIT stand-in, client sends: sent 1 (TCP_TIMEWAIT_SOCKET) named after the server', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c1tw');
    const t = await tracerIn(s, ns);
    const c = await s.connection(ns, '127.0.0.1', ['shutdown-wr', 'close', 'wait'], ['recv', 'wait', 'send=10', 'sleep=100', 'sockerr']);
    expect(await c.cli.waitLine('recv')).toBe('0');
    await c.srv.waitLine('closed');
    // The client's ACK of the FIN may be delayed: wait until the server's end is the TIME_WAIT
    // stand-in (substate FIN_WAIT2), or the data would hit the orphan in FIN_WAIT1 instead.
    const deadline = Date.now() + 3_000;
    for (;;) {
      const ss = await s.spawn(['ss', '-tan', 'state', 'fin-wait-2', `sport = :${c.port}`], { netns: ns }).done;
      if (ss.stdout.includes(`127.0.0.1:${c.clientPort}`)) break;
      if (Date.now() > deadline) throw new Error(`server end never reached FIN_WAIT2: ${ss.stdout}`);
      await sleep(20);
    }
    c.cli.send();
    expect(await c.cli.waitLine('sockerr')).toBe('EPIPE');
    const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
    expect(sent).toMatchObject({
      kind: 'sent', code: 1, codeKey: 'unknown-socket-pair', reason: 'TCP_TIMEWAIT_SOCKET', state: 'TIME_WAIT',
      pid: c.serverPid, comm: 'rstpeer', attribution: 'owner',
    });
    // Processed in the client's own task (its send() holds the socket and drew the RST).
    const recv = await t.waitFor(receivedOn(c.clientPort, c.port));
    expect(recv).toMatchObject({ kind: 'received', code: 0, state: 'CLOSE_WAIT', pid: c.clientPid, comm: 'rstpeer', attribution: 'context' });
  });

  it('server close()s, client sends at once into the orphan in FIN_WAIT1: sent 1 (TCP_ABORT_ON_DATA) named after the server', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c1ad');
    const t = await tracerIn(s, ns);
    // The client's ACK of the FIN is delayed (>= 40 ms); its data, sent as soon as it reads the
    // EOF, carries that ACK and reaches the orphaned server end while it is still in FIN_WAIT1.
    const c = await s.connection(ns, '127.0.0.1', ['wait', 'close', 'wait'], ['recv', 'send=10', 'sleep=100', 'sockerr']);
    c.srv.send();
    expect(await c.cli.waitLine('recv')).toBe('0');
    expect(await c.cli.waitLine('sockerr')).toBe('EPIPE');
    const sent = await t.waitFor(sentFrom(c.port, c.clientPort));
    expect(sent).toMatchObject({
      kind: 'sent', code: 1, codeKey: 'unknown-socket-pair', reason: 'TCP_ABORT_ON_DATA',
      pid: c.serverPid, comm: 'rstpeer', attribution: 'owner',
    });
    expect(['FIN_WAIT1', 'FIN_WAIT2']).toContain(sent.state);
  });
});

describe('code 13: management reset', () => {
  it('ss -K kills the client: sent 13 named after the client, ss reported as the actor', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('ssk');
    const t = await tracerIn(s, ns);
    const c = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait-error=5000']);
    const ss = s.spawn(['ss', '-K', '-t', 'dst', '127.0.0.1', 'dport', '=', `:${c.port}`], { netns: ns });
    const res = await ss.done;
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`127.0.0.1:${c.port}`);
    expect(await c.cli.waitLine(['error', 'hup', 'timeout'])).toBe('ECONNABORTED');
    const sent = await t.waitFor(sentFrom(c.clientPort, c.port));
    expect(sent).toMatchObject({
      kind: 'sent', code: 13, codeKey: 'management-reset', reason: 'TCP_STATE', state: 'ESTABLISHED',
      pid: c.clientPid, comm: 'rstpeer', actorPid: ss.pid, actorComm: 'ss', attribution: 'owner',
    });
    expectPeerReceived(expect, await t.waitFor(receivedOn(c.port, c.clientPort)), c.serverPid);
  });
});

describe('code 8: unexpected destroy', () => {
  it('bpf_sock_destroy() from a BPF TCP iterator run by cat: sent 8 on one end, received 0 on the other', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c8');
    const t = await tracerIn(s, ns);
    const pin = s.pin(`/sys/fs/bpf/rstrace-codes-${process.pid}-${randomBytes(3).toString('hex')}`);
    const pinned = await s.spawnArgv(['bpftool', 'iter', 'pin', 'build/sock_destroy.bpf.o', pin]).done;
    expect(pinned.code, pinned.stderr).toBe(0);
    const srv = s.peer(['tcp4', 'bind=127.0.0.1:4242', 'listen=8', 'pid', 'accept', 'wait-error=5000'], { netns: ns });
    const serverPid = Number(await srv.waitLine('pid'));
    const cli = s.peer(['tcp4', 'pid', 'connect=127.0.0.1:4242', 'wait-error=5000'], { netns: ns });
    const clientPid = Number(await cli.waitLine('pid'));
    const clientPort = portOf(await cli.waitLine('connected'));
    await srv.waitLine('accepted');
    const cat = s.spawnArgv(['nsenter', `--net=${netnsPath(ns)}`, 'cat', pin]);
    expect((await cat.done).code).toBe(0);
    const sent = await t.waitFor((e) => e.kind === 'sent' && e.code === 8);
    expect(sent).toMatchObject({
      code: 8, codeKey: 'unexpected-destroy', reason: 'TCP_STATE', state: 'ESTABLISHED', comm: 'rstpeer',
      actorComm: 'cat', actorPid: cat.pid, attribution: 'owner',
    });
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
    const t = await tracerIn(s, ns);
    const { listenerPid, port, victim, vport } = await s.overflowingListener(ns, ['recv']);
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

// Codes 2, 3 and 10 need segments a normal stack does not send in that state. They are made here
// with ordinary sockets: an nftables rule in the test's namespace hides some segments from one
// end, so that the two ends disagree about the connection, and a second socket reuses the same
// 4-tuple (any fixed port is free in a fresh namespace).
describe('crafted situations: codes 2, 3, 10 and a socket-less 1', () => {
  const V = 40000; // the client port, reused by a second socket

  /** Drop every non-SYN segment from 127.0.0.1:V to port P (table inet rstrace_test). */
  const hideNonSyn = (ns: string, port: number) => nft(ns, `table inet rstrace_test {
  chain input { type filter hook input priority -300; policy accept;
    tcp sport ${V} tcp dport ${port} tcp flags & syn == 0 drop; }
}
`);

  it('2: half-open connection, a new SYN_SENT socket on the same 4-tuple gets a challenge ACK: sent 2 (TCP_INVALID_ACK_SEQUENCE)', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c2');
    const t = await tracerIn(s, ns);
    const { srv, pid: serverPid, port } = await s.listener(ns, '127.0.0.1', ['accept', 'wait-error=5000']);
    // The first client vanishes without the server noticing: its linger-0 RST is dropped.
    const first = s.peer(['tcp4', 'reuseaddr', `bind=127.0.0.1:${V}`, `connect=127.0.0.1:${port}`, 'wait', 'linger0', 'close'], { netns: ns });
    await first.waitLine('connected');
    await srv.waitLine('accepted');
    await hideNonSyn(ns, port);
    first.send();
    await first.waitLine('closed');
    await nftFlush(ns);
    const second = s.peer(['tcp4', 'pid', 'reuseaddr', `bind=127.0.0.1:${V}`, `connect=127.0.0.1:${port}`], { netns: ns });
    const secondPid = Number(await second.waitLine('pid'));
    // Its RST (seq = the challenge ACK's ack) resets the server's stale end.
    expect(await srv.waitLine(['error', 'hup', 'timeout'])).toBe('ECONNRESET');
    const sent = await t.waitFor((e) => sentFrom(V, port)(e) && e.code !== 6);
    expect(sent).toMatchObject({
      kind: 'sent', code: 2, codeKey: 'ack-invalid-state', reason: 'TCP_INVALID_ACK_SEQUENCE', state: 'SYN_SENT',
      pid: secondPid, tid: secondPid, comm: 'rstpeer', attribution: 'context', // from its connect()'s socket backlog
    });
    expectPeerReceived(expect, await t.waitFor(receivedOn(port, V)), serverPid);
  });

  it('3: a new SYN inside the window of a connection still in SYN_RECV: the listener sends 3 (INVALID_SYN)', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const ns = await s.netns('c3');
    const t = await tracerIn(s, ns);
    const { pid: listenerPid, port } = await s.listener(ns, '127.0.0.1', ['wait']);
    await hideNonSyn(ns, port);
    // The first socket's SYN makes a request socket (SYN_RECV) whose final ACK never arrives;
    // the second socket's SYN, microseconds later, has an ISN inside that request's window.
    const cli = s.peer(['tcp4', 'pid', 'reuseaddr', `bind=127.0.0.1:${V}`, `connect-nb=127.0.0.1:${port}`, 'linger0', 'close',
      'tcp4', 'reuseaddr', `bind=127.0.0.1:${V}`, `connect=127.0.0.1:${port}`], { netns: ns });
    const clientPid = Number(await cli.waitLine('pid'));
    expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe('ECONNREFUSED');
    const sent = await t.waitFor((e) => sentFrom(port, V)(e));
    expect(sent).toMatchObject({
      kind: 'sent', code: 3, codeKey: 'syn-invalid-state', reason: 'INVALID_SYN', state: 'LISTEN',
      pid: listenerPid, comm: 'rstpeer', attribution: 'owner',
    });
    const recv = await t.waitFor(receivedOn(V, port));
    expect(recv).toMatchObject({ code: 0, state: 'SYN_SENT', pid: clientPid, comm: 'rstpeer', attribution: 'context' });
  });

  for (const relisten of [true, false]) {
    it(relisten
      ? '10: an ACK for a request of a closed listener reaches a new listener on the port: sent 10 (TCP_FLAGS) by the new listener'
      : '1: an ACK for a request of a closed listener, nothing listens any more: sent 1 (NO_SOCKET without SYN), no owner', async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx);
      const ns = await s.netns(relisten ? 'c10' : 'c1ns');
      const t = await tracerIn(s, ns);
      const { srv: old, port } = await s.listener(ns, '127.0.0.1', ['wait', 'close', 'wait']);
      await hideNonSyn(ns, port);
      const cli = s.peer(['tcp4', 'pid', 'reuseaddr', `bind=127.0.0.1:${V}`, `connect=127.0.0.1:${port}`, 'wait', 'send=5', 'recv'], { netns: ns });
      await cli.waitLine('connected'); // its side is ESTABLISHED, the listener's request is SYN_RECV
      old.send();
      await old.waitLine('closed');
      let newPid = 0;
      if (relisten) {
        const again = s.peer(['tcp4', 'reuseaddr', `bind=127.0.0.1:${port}`, 'listen=8', 'pid', 'wait'], { netns: ns });
        newPid = Number(await again.waitLine('pid'));
      }
      await nftFlush(ns);
      cli.send();
      expect(await cli.waitLine(['recv', 'error', 'timeout'])).toBe('ECONNRESET');
      const sent = await t.waitFor(sentFrom(port, V));
      if (relisten) {
        expect(sent).toMatchObject({
          kind: 'sent', code: 10, codeKey: 'invalid-state-transition', reason: 'TCP_FLAGS', state: 'LISTEN',
          pid: newPid, comm: 'rstpeer', attribution: 'owner',
        });
      } else {
        expect(sent).toMatchObject({
          kind: 'sent', code: 1, codeKey: 'unknown-socket-pair', reason: 'NO_SOCKET', state: null,
          pid: null, comm: null, attribution: 'none',
        });
      }
    });
  }
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
    // The client's end is processed in the server's task, and the tracer never saw it being
    // connected: only /proc can name it. The client exits right after the reset (as many clients
    // do): it was alive when the tracer started and when the reset happened, so its name is known.
    const recv = await t.waitFor(receivedOn(c.clientPort, c.port));
    expect(recv).toMatchObject({ code: 0, state: 'ESTABLISHED', pid: c.clientPid });
    expect(['owner', 'proc']).toContain(recv.attribution);
    expect(recv.comm, 'comm of an owner found through /proc').toBe('rstpeer');
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
    const { a, b, link } = await s.pair();
    const t = await tracerIn(s, a);
    const c = await s.connection(b, link.addrB, ['wait'], ['wait-error=10000'], { clientNetns: a, clientPre: ['keepalive=1,1,2'] });
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
    const { a, b, link } = await s.pair();
    const t = await tracerIn(s, a);
    await nftDropAll(b);
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
      const t = await tracerIn(s, topo.client);
      const dst = v6 ? `[${topo.serverAddr6}]:5000` : `${topo.serverAddr}:5000`;
      const cli = s.peer([v6 ? 'tcp6' : 'tcp4', 'pid', v6 ? 'bind=[::]:0' : 'bind=0.0.0.0:0', 'port', `connect=${dst}`], { netns: topo.client });
      const clientPid = Number(await cli.waitLine('pid'));
      const clientPort = Number(await cli.waitLine('port'));
      expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe(v6 ? 'ENETUNREACH' : 'EHOSTUNREACH');
      const ab = await t.waitFor(abortOf(clientPort, 5000));
      expect(ab).toMatchObject({
        kind: 'abort', code: 9, codeKey: 'icmp-unreachable', state: 'SYN_SENT', pid: clientPid, comm: 'rstpeer',
        family: v6 ? 'ipv6' : 'ipv4', attribution: 'owner',
      });
      expect(ab.explanation).toMatch(v6 ? /ENETUNREACH/ : /EHOSTUNREACH/);
    }, 20_000);
  }

  it('18: TCP_USER_TIMEOUT=1000, peer silenced, write: abort 18 with the unsent bytes, and no 17 or 10', async (ctx) => {
    const { expect } = ctx;
    const s = scope(ctx);
    const { a, b, link } = await s.pair();
    const t = await tracerIn(s, a);
    const c = await s.connection(b, link.addrB, ['wait'], ['wait', 'send=100', 'unsent', 'wait-error=10000'],
      { clientNetns: a, clientPre: ['user-timeout=1000'] });
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
