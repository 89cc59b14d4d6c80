/**
 * RSTs injected with a raw socket (test/peers/rstinject.py) into live connections across a veth
 * pair between two namespaces of the test's own: out of the window, in it but not exact, exact,
 * a wrong ACK into SYN_SENT, and the exact RST into a TIME_WAIT stand-in. The kernel refuses the
 * first two (code 19, kind ignored, the drop reason, the socket's owner) and the connection still
 * carries data; it accepts the exact one (received, code 0), after which the real peer, which never
 * sent that RST, keeps sending (data-after-reset). In every test tcpdump in the victim's namespace
 * and the tracer agree RST for RST.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ResetEvent } from '../../src/event.js';
import { compareRsts, injector, rstCapture, type Injector } from '../helpers/forged.js';
import { cleanup, exec, netnsInode, nft, vethPair } from '../helpers/netns.js';
import { scope, sleep, waitUntil, type Scope } from '../helpers/scenarios.js';
import { stopAllTracers } from '../helpers/tracer.js';

afterAll(async () => {
  await stopAllTracers();
  await cleanup();
});

const A = '10.199.1.1';
const B = '10.199.1.2';

/** Victim namespace a (client) and peer b (server, and the injector), joined by h1a <-> h1b. */
async function stage(s: Scope) {
  const a = await s.netns('rsth1a');
  const b = await s.netns('rsth1b');
  await vethPair(a, b, { addrA: `${A}/24`, addrB: `${B}/24`, ifA: 'h1a', ifB: 'h1b' });
  const t = await s.tracer(['--netns', String(netnsInode(a))]);
  return { a, b, t };
}

const on = (kind: ResetEvent['kind'], lport: number) => (e: ResetEvent) => e.kind === kind && e.lport === lport;

/** An inject command retried until the injector has seen what it needs (the SYN it answers). */
async function injectWhenSeen(inj: Injector, command: string) {
  for (let i = 0; ; i++) {
    try {
      return await inj.inject(command);
    } catch (err) {
      if (i >= 30 || !/nothing-seen/.test(String(err))) throw err;
      await sleep(100);
    }
  }
}

describe('RSTs injected into an established connection', () => {
  it('out of window and in window but not exact are ignored (19, signals), the exact one is accepted (0), and data after it is data-after-reset', async (ctx) => {
    const s = scope(ctx);
    const { a, b, t } = await stage(s);
    const cap = await rstCapture(ctx, a);
    const { srv, cli, clientPid, clientPort, port } = await s.connection(b, B,
      ['wait', 'send=5', 'wait', 'send=5', 'wait', 'send=5', 'wait'],
      ['wait', 'recv', 'wait', 'recv', 'wait'], { clientNetns: a });
    const inj = await injector(ctx, b, 'h1b', `${B}:${port}`, `${A}:${clientPort}`);
    srv.send();
    await srv.waitLine('sent');
    cli.send();
    expect(await cli.waitLine('recv')).toBe('5');

    await inj.inject('rst 1000000000');
    const oow = await t.waitFor(on('ignored', clientPort));
    expect(oow).toMatchObject({
      code: 19, codeKey: 'reset-ignored', reason: 'TCP_INVALID_SEQUENCE', state: 'ESTABLISHED', raddr: B, rport: port,
      pid: clientPid, comm: 'rstpeer', attribution: 'owner', signals: ['out-of-window'],
    });
    await inj.inject('rst 1000');
    const challenged = await t.waitFor((e) => on('ignored', clientPort)(e) && e.reason === 'TCP_RESET');
    expect(challenged).toMatchObject({ code: 19, state: 'ESTABLISHED', pid: clientPid, signals: ['reset-seq-change'] });
    expect(challenged.explanation).toMatch(/challenge ACK/);

    // The connection lives on.
    srv.send();
    await srv.waitLine('sent');
    cli.send();
    expect(await cli.waitLine('recv')).toBe('5');

    await inj.inject('rst 0');
    const accepted = await t.waitFor(on('received', clientPort));
    expect(accepted).toMatchObject({ code: 0, reason: null, state: 'ESTABLISHED', pid: clientPid, signals: ['reset-seq-change'] });

    // The real peer never sent that RST: it keeps sending, and this host answers NO_SOCKET.
    srv.send();
    const answer = await t.waitFor(on('sent', clientPort));
    expect(answer).toMatchObject({ code: 1, reason: 'NO_SOCKET', raddr: B, rport: port, signals: ['data-after-reset'] });
    expect(compareRsts(await cap.stop(), t.events, netnsInode(a))).toEqual({ missing: [], extra: [] });
  });
});

describe('a blind RST to a listening port', () => {
  it('is ignored by the listener (19, no connection, no out-of-window), and tcpdump agrees', async (ctx) => {
    const s = scope(ctx);
    const { a, b, t } = await stage(s);
    const cap = await rstCapture(ctx, a);
    const { pid, port } = await s.listener(a, A, ['wait']);
    const inj = await injector(ctx, b, 'h1b', `${B}:40404`, `${A}:${port}`);
    await inj.inject('rstat 123456789');
    expect(await t.waitFor(on('ignored', port))).toMatchObject({
      code: 19, state: 'LISTEN', raddr: B, rport: 40404, pid, attribution: 'owner', signals: null,
      explanation: 'RST ignored by a listener: no connection for its tuple',
    });
    expect(compareRsts(await cap.stop(), t.events, netnsInode(a))).toEqual({ missing: [], extra: [] });
  });
});

describe('RSTs injected into SYN_SENT', () => {
  it('a RST|ACK with a wrong ACK is ignored (TCP_INVALID_ACK_SEQUENCE), the right one refuses the connection', async (ctx) => {
    const s = scope(ctx);
    const { a, b, t } = await stage(s);
    // b drops the SYN: only the injector answers it.
    await nft(b, 'table inet rsth1 {\n  chain input { type filter hook input priority 0; policy accept; tcp dport 7070 drop; }\n}\n');
    const cap = await rstCapture(ctx, a);
    const cli = s.peer(['tcp4', `bind=${A}:0`, 'pid', 'port', 'wait', `connect=${B}:7070`], { netns: a });
    const clientPid = Number(await cli.waitLine('pid'));
    const clientPort = Number(await cli.waitLine('port'));
    const inj = await injector(ctx, b, 'h1b', `${B}:7070`, `${A}:${clientPort}`);
    cli.send();
    await injectWhenSeen(inj, 'rstack 1000');
    expect(await t.waitFor(on('ignored', clientPort))).toMatchObject({
      code: 19, reason: 'TCP_INVALID_ACK_SEQUENCE', state: 'SYN_SENT', pid: clientPid, attribution: 'owner',
    });
    await inj.inject('rstack 0');
    expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
    expect(await t.waitFor(on('received', clientPort))).toMatchObject({ code: 0, state: 'SYN_SENT', pid: clientPid, signals: null });
    expect(compareRsts(await cap.stop(), t.events, netnsInode(a))).toEqual({ missing: [], extra: [] });
  });
});

describe('RSTs injected into a TIME_WAIT stand-in', () => {
  it('a RST off by some is ignored; the exact one kills it: received, code 0, TIME_WAIT, owned by the closer', async (ctx) => {
    const s = scope(ctx);
    const { a, b, t } = await stage(s);
    const cap = await rstCapture(ctx, a);
    const { srv, cli, clientPid, clientPort, port } = await s.connection(b, B, ['recv-all', 'close', 'wait'], ['wait', 'close', 'wait'], { clientNetns: a });
    const inj = await injector(ctx, b, 'h1b', `${B}:${port}`, `${A}:${clientPort}`);
    cli.send(); // the client closes first: its end becomes the TIME_WAIT stand-in
    await srv.waitLine('closed');
    const timeWait = async () => (await exec(a, ['ss', '-Htan', 'state', 'time-wait', `sport = :${clientPort}`])).stdout.trim() !== '';
    await waitUntil('TIME_WAIT on the client', timeWait, 5_000);

    await inj.inject('rst 5000');
    expect(await t.waitFor(on('ignored', clientPort))).toMatchObject({ code: 19, state: 'TIME_WAIT', pid: clientPid, attribution: 'owner' });
    expect(await timeWait()).toBe(true);
    await inj.inject('rst 0');
    expect(await t.waitFor(on('received', clientPort))).toMatchObject({
      code: 0, codeKey: 'remote-reset', reason: null, state: 'TIME_WAIT', pid: clientPid, comm: 'rstpeer', attribution: 'owner', raddr: B, rport: port,
    });
    await waitUntil('TIME_WAIT gone', async () => !(await timeWait()), 5_000);
    expect(compareRsts(await cap.stop(), t.events, netnsInode(a))).toEqual({ missing: [], extra: [] });
  });
});
