// Smoke tests of the e2e harness itself (no tracer involved): each scenario of reset-codes.md
// "Provoking each case in a test" is run with separate rstpeer processes in namespaces the test
// creates, and checked on what the peers report and on what tcpdump sees on the wire. When one of
// these fails, the tracer's e2e test for that code cannot be trusted either.
import { existsSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import {
  capture, cleanup, createNetns, currentNetnsInode, deleteNetns, exec, liveNamespaces, netnsInode,
  netnsPath, nftDropAll, nftFlush, RST_FILTER as RST, run,
} from '../helpers/netns.js';
import { spawnPeer } from '../helpers/peer.js';
import { endpoint, linkExists, LOOPBACKS, scope, settle, sleep, waitUntil } from '../helpers/scenarios.js';

afterEach(cleanup);
afterAll(cleanup);

describe('harness', () => {
  test('namespaces are unique, have loopback up, and cleanup removes them and kills their peers', async () => {
    const ns1 = await createNetns('h');
    const ns2 = await createNetns('h');
    expect(ns1).not.toBe(ns2);
    expect(ns1).toContain(`-${process.pid}-`);
    expect(netnsInode(ns1)).not.toBe(netnsInode(ns2));
    expect(netnsInode(ns1)).not.toBe(currentNetnsInode());
    const lo = await exec(ns1, ['ip', '-br', 'addr', 'show', 'lo']);
    expect(lo.stdout).toMatch(/UNKNOWN|UP/);
    expect(lo.stdout).toContain('127.0.0.1/8');
    expect(lo.stdout).toContain('::1/128');

    const p = spawnPeer(['pid', 'wait'], { netns: ns1 });
    expect(Number(await p.waitLine('pid'))).toBe(p.pid);
    await p.waitLine('waiting');
    await cleanup();
    expect((await p.exited).signal).toBe('SIGKILL');
    expect(existsSync(netnsPath(ns1))).toBe(false);
    expect(existsSync(netnsPath(ns2))).toBe(false);
    expect(liveNamespaces()).toEqual([]);
  });
});


describe('codes 11 / 0: connect() to a port with no listener', () => {
  for (const { peer: family, host } of LOOPBACKS) {
    test(`${family}: ECONNREFUSED, and a RST from the closed port crosses lo`, async (ctx) => {
      const s = scope(ctx);
      const ns = await s.netns('refused');
      const port = await s.closedPort(ns, host);
      const cap = await capture(ns, `${RST} and src port ${port}`);
      const cli = s.peer([family, `connect=${endpoint(host, port)}`, 'state'], { netns: ns });
      expect(await cli.waitLine(['connected', 'error'])).toBe('ECONNREFUSED');
      expect(await cli.waitLine('state')).toBe('CLOSE');
      const pkts = await cap.packets;
      expect(pkts).toHaveLength(1);
      expect(pkts[0]).toContain('Flags [R.]');
    });
  }
});

describe('code 6: application abort', () => {
  test('close() after SO_LINGER {1,0} sends a RST: the peer reads ECONNRESET', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('linger0');
    const { srv, cli, clientPort } = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait', 'linger0', 'close']);
    const cap = await capture(ns, `${RST} and src port ${clientPort}`);
    await cli.waitLine('waiting');
    cli.send();
    await cli.waitLine('closed');
    expect(await srv.waitLine(['eof', 'error'])).toBe('ECONNRESET');
    expect((await cap.packets)[0]).toContain('Flags [R.]');
  });

  test('close() with SO_LINGER {1,0} in a new thread: the thread reports its own tid', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('thread');
    const { srv, port } = await s.listener(ns, '127.0.0.1', ['accept', 'recv-all']);
    const cap = await capture(ns, `${RST} and dst port ${port}`);
    const cli = s.peer(['tcp4', 'pid', `thread:connect=127.0.0.1:${port}`, 'linger0', 'thread:close'], { netns: ns });
    const pid = Number(await cli.waitLine('pid'));
    const connectTid = Number(await cli.waitLine('tid'));
    await cli.waitLine('connected');
    const closeTid = Number(await cli.waitLine('tid'));
    await cli.waitLine('closed');
    expect(pid).toBe(cli.pid);
    expect(connectTid).not.toBe(pid);
    expect(closeTid).not.toBe(pid);
    expect(closeTid).not.toBe(connectTid);
    expect(await srv.waitLine('error')).toBe('ECONNRESET');
    expect(await cap.packets).toHaveLength(1);
  });

  test('TCP_LINGER2=-1, shutdown(SHUT_WR) then close() in FIN_WAIT2: RST instead of a TIME_WAIT stand-in', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('linger2');
    const { srv, cli, clientPort } = await s.connection(ns, '127.0.0.1', ['recv', 'wait', 'send=10', 'sockerr'],
      ['linger2=-1', 'shutdown-wr', 'sleep=100', 'state', 'wait', 'close']);
    expect(await srv.waitLine('recv')).toBe('0'); // the client's FIN
    expect(await cli.waitLine('state')).toBe('FIN_WAIT2');
    const cap = await capture(ns, `${RST} and src port ${clientPort}`);
    cli.send();
    await cli.waitLine('closed');
    expect((await cap.packets)[0]).toContain('Flags [R.]');
    srv.send();
    // The server was in CLOSE_WAIT when the RST came: tcp_reset() reports EPIPE there.
    expect(await srv.waitLine(['sent', 'error'])).toBe('EPIPE');
  });

  test('closing a listener with a connection still in its accept queue resets that connection', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('lclose');
    const { srv, port } = await s.listener(ns, '127.0.0.1', ['wait', 'close']);
    const cli = s.peer(['tcp4', `connect=127.0.0.1:${port}`, 'recv'], { netns: ns });
    await cli.waitLine('connected'); // queued, never accepted
    const cap = await capture(ns, `${RST} and src port ${port}`);
    srv.send();
    await srv.waitLine('closed');
    expect(await cli.waitLine(['recv', 'error'])).toBe('ECONNRESET');
    expect(await cap.packets).toHaveLength(1);
  });

  test('connect(AF_UNSPEC) on an established socket sends a RST and leaves it CLOSE', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('unspec');
    const { srv, cli, clientPort } = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait', 'unspec', 'state']);
    const cap = await capture(ns, `${RST} and src port ${clientPort}`);
    cli.send();
    expect(await cli.waitLine(['unspec', 'error'])).toBe('0');
    expect(await cli.waitLine('state')).toBe('CLOSE');
    expect(await srv.waitLine(['eof', 'error'])).toBe('ECONNRESET');
    expect(await cap.packets).toHaveLength(1);
  });
});

describe('code 16: close() with unread data', () => {
  for (const { peer: family, host } of LOOPBACKS) {
    test(`${family}: the receiver closes without reading, the sender reads ECONNRESET`, async (ctx) => {
      const s = scope(ctx);
      const ns = await s.netns('unread');
      const { srv, cli, port } = await s.connection(ns, host, ['wait', 'unread', 'close'], ['send=1000', 'recv-all']);
      expect(await cli.waitLine('sent')).toBe('1000');
      await srv.waitLine('waiting');
      const cap = await capture(ns, `${RST} and src port ${port}`);
      await sleep(50); // loopback delivers at once; a little slack for a loaded machine
      srv.send();
      expect(await srv.waitLine('unread')).toBe('1000');
      await srv.waitLine('closed');
      expect(await cli.waitLine(['eof', 'error'])).toBe('ECONNRESET');
      expect(await cap.packets).toHaveLength(1);
    });
  }
});

describe('code 1: segment for a connection the application already closed', () => {
  test('server shutdown()+close(), client sends later: RST from the TIME_WAIT stand-in, client sees EPIPE', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('tw');
    const { cli, port } = await s.connection(ns, '127.0.0.1', ['shutdown-wr', 'close'],
      ['recv', 'wait', 'send=10', 'sleep=100', 'state', 'sockerr']);
    expect(await cli.waitLine('recv')).toBe('0'); // the server's FIN
    const cap = await capture(ns, `${RST} and src port ${port}`);
    // The closed server end is already a TIME_WAIT stand-in in substate FIN_WAIT2 (no inode).
    const ss = await exec(ns, ['ss', '-tane', 'state', 'fin-wait-2', `sport = :${port}`]);
    expect(ss.stdout).toContain(`127.0.0.1:${port}`);
    expect(ss.stdout).toContain('timer:(timewait');
    cli.send();
    expect(await cli.waitLine('sent')).toBe('10');
    expect(await cli.waitLine('state')).toBe('CLOSE');
    // tcp_reset() in CLOSE_WAIT sets EPIPE, not ECONNRESET.
    expect(await cli.waitLine('sockerr')).toBe('EPIPE');
    expect((await cap.packets)[0]).toContain('Flags [R]');
  });
});

describe('code 13: management reset', () => {
  test('ss -K kills an established connection: owner ECONNABORTED, peer ECONNRESET, RST on lo', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('ssk');
    const { srv, cli, port } = await s.connection(ns, '127.0.0.1', ['recv-all'], ['wait-error=5000', 'state']);
    const cap = await capture(ns, `${RST} and dst port ${port}`);
    const ss = await exec(ns, ['ss', '-K', '-t', 'dst', '127.0.0.1', 'dport', '=', `:${port}`]);
    expect(ss.stdout).toContain(`127.0.0.1:${port}`);
    expect(await cli.waitLine(['error', 'hup', 'timeout'])).toBe('ECONNABORTED');
    expect(await cli.waitLine('state')).toBe('CLOSE');
    expect(await srv.waitLine(['eof', 'error'])).toBe('ECONNRESET');
    expect(await cap.packets).toHaveLength(1);
  });
});

describe('code 17: keepalive probes unanswered', () => {
  test('keepalive=1,1,2 across a veth, peer silenced by nft: ETIMEDOUT in ~3 s, the prober sends a RST', async (ctx) => {
    const s = scope(ctx);
    const { a, b, link } = await s.pair();
    const { cli } = await s.connection(b, link.addrB, ['wait'], ['wait-error=10000', 'state'], { clientNetns: a, clientPre: ['keepalive=1,1,2'] });
    const start = Date.now();
    await nftDropAll(b);
    const cap = await capture(a, `${RST} and src host ${link.addrA}`);
    expect(await cli.waitLine(['error', 'hup', 'timeout'], 10_000)).toBe('ETIMEDOUT');
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThan(1_500);
    expect(elapsed).toBeLessThan(6_000);
    expect(await cli.waitLine('state')).toBe('CLOSE');
    expect((await cap.packets)[0]).toContain('Flags [R.]');
  }, 20_000);
});

describe('code 18: retransmission timeout', () => {
  test('TCP_USER_TIMEOUT=1000, peer silenced, write: ETIMEDOUT in ~1 s and no RST on the wire', async (ctx) => {
    const s = scope(ctx);
    const { a, b, link } = await s.pair();
    const { cli } = await s.connection(b, link.addrB, ['wait'], ['wait', 'send=100', 'unsent', 'wait-error=10000', 'state'],
      { clientNetns: a, clientPre: ['user-timeout=1000'] });
    await nftDropAll(b);
    const cap = await capture(a, `tcp and host ${link.addrB}`, { count: 100 });
    const start = Date.now();
    cli.send();
    expect(await cli.waitLine('unsent')).toBe('100');
    expect(await cli.waitLine(['error', 'hup', 'timeout'])).toBe('ETIMEDOUT');
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThan(800);
    expect(elapsed).toBeLessThan(4_000);
    expect(await cli.waitLine('state')).toBe('CLOSE');
    const pkts = await settle(cap);
    expect(pkts.filter((l) => l.includes('length 100')).length).toBeGreaterThanOrEqual(2); // retransmits
    expect(pkts.filter((l) => /Flags \[R/.test(l))).toEqual([]);
  }, 20_000);
});

describe('code 15: SYN timeout', () => {
  test('TCP_SYNCNT=1 to a namespace that drops everything: ETIMEDOUT in ~3 s, no RST', async (ctx) => {
    const s = scope(ctx);
    const { a, b, link } = await s.pair();
    await nftDropAll(b);
    const cap = await capture(a, `tcp and host ${link.addrB}`, { count: 100 });
    const start = Date.now();
    const cli = s.peer(['tcp4', 'syncnt=1', `connect=${link.addrB}:5000`, 'state'], { netns: a });
    expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe('ETIMEDOUT');
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThan(1_500);
    expect(elapsed).toBeLessThan(6_000);
    expect(await cli.waitLine('state')).toBe('CLOSE');
    const pkts = await settle(cap, 100);
    expect(pkts.length).toBeGreaterThanOrEqual(2);
    expect(pkts.every((l) => l.includes('Flags [S]'))).toBe(true);
  }, 20_000);
});

describe('code 9: ICMP destination unreachable', () => {
  test('router with an unreachable route: connect() fails with EHOSTUNREACH, ICMP seen, no RST', async (ctx) => {
    const s = scope(ctx);
    const t = await s.topology();
    const cap = await capture(t.client, `icmp or ${RST}`, { count: 2 });
    const start = Date.now();
    const cli = s.peer(['tcp4', `connect=${t.serverAddr}:5000`, 'state'], { netns: t.client });
    expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe('EHOSTUNREACH');
    // The first ICMP reaches the socket while connect() still owns it (veth delivers in the same
    // softirq run): it is counted as LockDroppedIcmps and only the SYN retransmit's ICMP aborts.
    expect(Date.now() - start).toBeLessThan(3_000);
    expect(await cli.waitLine('state')).toBe('CLOSE');
    const pkts = await cap.packets;
    expect(pkts.length).toBeGreaterThanOrEqual(1);
    expect(pkts.every((l) => l.includes(`ICMP host ${t.serverAddr} unreachable`))).toBe(true);
  }, 20_000);

  test('IPv6: the unreachable route answers ICMPv6 no-route, which gives ENETUNREACH', async (ctx) => {
    const s = scope(ctx);
    const t = await s.topology({ v6: true });
    const cli = s.peer(['tcp6', `connect=[${t.serverAddr6}]:5000`, 'state'], { netns: t.client });
    expect(await cli.waitLine(['connected', 'error', 'timeout'])).toBe('ENETUNREACH');
    expect(await cli.waitLine('state')).toBe('CLOSE');
  }, 20_000);

  test('without the unreachable route the same topology connects (the router forwards)', async (ctx) => {
    const s = scope(ctx);
    const t = await s.topology({ unreachable: false });
    const { port } = await s.listener(t.server, '0.0.0.0', ['accept', 'wait']);
    const cli = s.peer(['tcp4', `connect=${t.serverAddr}:${port}`], { netns: t.client });
    expect(await cli.waitLine(['connected', 'error', 'timeout'])).toMatch(/^10\.213\.1\.2:/);
  }, 20_000);
});

describe('code 14: accept queue overflow with tcp_abort_on_overflow=1', () => {
  test('a handshake completed while the accept queue is full is answered with a RST', async (ctx) => {
    const s = scope(ctx);
    const ns = await s.netns('ovf');
    const { port, victim, vport } = await s.overflowingListener(ns, ['recv', 'state']);
    const ss = await exec(ns, ['ss', '-tln', `sport = :${port}`]);
    expect(ss.stdout).toMatch(new RegExp(`LISTEN\\s+2\\s+1\\s`)); // Recv-Q 2 = queue length, Send-Q 1 = backlog
    await nftFlush(ns);
    const cap = await capture(ns, `${RST} and src port ${port} and dst port ${vport}`);
    victim.send(); // its data carries the ACK that completes the handshake: the queue is full
    expect(await victim.waitLine('sent')).toBe('5');
    expect(await victim.waitLine(['recv', 'error', 'timeout'])).toBe('ECONNRESET');
    expect(await victim.waitLine('state')).toBe('CLOSE');
    expect((await cap.packets)[0]).toContain('Flags [R]');
    const nstat = await exec(ns, ['nstat', '-az', 'TcpExtListenOverflows', 'TcpExtEmbryonicRsts']);
    expect(nstat.stdout).toMatch(/TcpExtEmbryonicRsts\s+1\s/);
  }, 20_000);
});

describe('code 8: namespace deletion with live connections', () => {
  test('ip netns del does not touch a live connection; the namespace dies when its last process exits, peer sees only a FIN', async (ctx) => {
    const s = scope(ctx);
    const { a, b, link } = await s.pair();
    const { srv, port } = await s.listener(a, link.addrA, ['accept', 'recv', 'send=5', 'wait']);
    const cli = s.peer(['tcp4', `connect=${link.addrA}:${port}`, 'wait', 'send=7', 'recv', 'recv', 'state', 'sockerr'], { netns: b });
    await cli.waitLine('connected');
    await srv.waitLine('accepted');
    await deleteNetns(a); // only the name goes: the server process still holds the namespace
    expect(existsSync(netnsPath(a))).toBe(false);
    const cap = await capture(b, RST, { count: 10 });
    cli.send();
    expect(await srv.waitLine('recv')).toBe('7');
    expect(await cli.waitLine('recv')).toBe('5');
    expect(await linkExists(b, link.ifB)).toBe(true);
    srv.kill(); // its socket closes normally (FIN); then nothing holds the namespace any more
    expect(await cli.waitLine('recv')).toBe('0');
    expect(await cli.waitLine('state')).toBe('CLOSE_WAIT');
    expect(await cli.waitLine('sockerr')).toBe('0');
    await waitUntil('veth end in b removed with namespace a', async () => !(await linkExists(b, link.ifB)), 5_000);
    expect(await settle(cap)).toEqual([]);
  }, 20_000);

  test('a socket open in another namespace keeps a deleted namespace alive until it is closed', async (ctx) => {
    const s = scope(ctx);
    const { a, b, link } = await s.pair();
    const { srv, port } = await s.listener(b, link.addrB, ['accept', 'recv', 'send=5', 'recv']);
    // Created in a, then the process moves to b: a is left with no process, only the socket.
    const cli = s.peer(['tcp4', `connect=${link.addrB}:${port}`, `netns=${netnsPath(b)}`, 'wait', 'send=7', 'recv',
      'state', 'wait', 'close', 'wait'], { netns: a });
    await cli.waitLine('connected');
    await cli.waitLine('netns');
    await srv.waitLine('accepted');
    expect((await run(['ip', 'netns', 'pids', a])).stdout.trim()).toBe('');
    await deleteNetns(a);
    await sleep(1_000);
    expect(await linkExists(b, link.ifB)).toBe(true);
    cli.send();
    expect(await srv.waitLine('recv')).toBe('7');
    expect(await cli.waitLine('recv')).toBe('5');
    expect(await cli.waitLine('state')).toBe('ESTABLISHED');
    cli.send();
    await cli.waitLine('closed');
    expect(await srv.waitLine('recv')).toBe('0');
    await waitUntil('veth end in b removed with namespace a', async () => !(await linkExists(b, link.ifB)), 5_000);
  }, 20_000);
});
